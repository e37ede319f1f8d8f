"""Data side of the flow: the IEEE-CIS schema, file loader, synthetic generator and traffic simulator."""
