# Sentinel tasks. `just` lists them; `just check` is exactly what CI runs.
set dotenv-load := true
set shell := ["bash", "-euo", "pipefail", "-c"]

export PATH := justfile_directory() + "/.venv/bin:" + env_var("PATH")

# List the recipes.
default:
    @just --list

# Run the whole local stack in the foreground (Ctrl-C stops it); `just up --detach` runs it in the background.
up *ARGS:
    sentinel up {{ARGS}}

# Stop the local stack started by `sentinel up` (in this state directory).
down:
    sentinel down

# Run the tests (pass pytest arguments, e.g. `just test -k mirror`).
test *ARGS:
    pytest {{ARGS}}

# Lint, type-check and test: exactly what CI runs.
check:
    ruff check .
    ruff format --check .
    mypy
    pytest

# Format the code.
fmt:
    ruff format .
    ruff check --fix .

# Run the benchmarks; results go to bench-results/*.json, the goals table to bench-results/summary.json.
bench:
    mkdir -p bench-results
    sentinel bench streams --json bench-results/streams.json
    sentinel bench api --json bench-results/api.json
    sentinel bench inference --json bench-results/inference.json
    sentinel bench e2e --json bench-results/e2e.json
    sentinel bench summary --results bench-results --json bench-results/summary.json
