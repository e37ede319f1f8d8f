"""The ground floor: typed settings and the error root, imported by every package; imports none of ours."""
