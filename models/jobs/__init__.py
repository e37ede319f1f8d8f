"""Model lifecycle as RQ jobs: drift check, retraining, challenger evaluation (``models.jobs.schedule``).

Every job is a plain function RQ imports by dotted path (``models.jobs.<module>.<function>``),
stored with RQ's JSON serializer (``models.jobs.queue``), never with pickle.
"""
