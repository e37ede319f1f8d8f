"""Gateway benchmark: an open-loop HTTP load generator and the `sentinel bench api` command."""
