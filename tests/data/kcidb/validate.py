#!/usr/bin/env python3
"""Validates a KCIDB document against a KCIDB JSON schema (tests/data/kcidb/schema.json).

Usage: validate.py SCHEMA DOCUMENT
Exit status: 0 valid; 1 not valid (each error on stderr, with where it is); 2 usage or unreadable
file; 3 the jsonschema module is missing (Debian: apt-get install python3-jsonschema; setup.sh
installs it).

kcidb-io validates with JSON Schema Draft 7 and the schema has no "$schema" member, so Draft 7 is
named here. Formats (uri, date-time, email) are checked where jsonschema has the checker's
module installed; patterns, enums, types, required and additional members always are.
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("validate.py: the python3 jsonschema module is missing "
          "(apt-get install python3-jsonschema; setup.sh installs it)", file=sys.stderr)
    sys.exit(3)


def main(argv):
    if len(argv) != 3:
        print("usage: validate.py SCHEMA DOCUMENT", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        with open(argv[2], encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        print(f"validate.py: {e}", file=sys.stderr)
        return 2
    jsonschema.Draft7Validator.check_schema(schema)
    # FORMAT_CHECKER since jsonschema 4.5 (Debian 12 has 4.10); the module-level name before.
    checker = getattr(jsonschema.Draft7Validator, "FORMAT_CHECKER", None)
    if checker is None:
        checker = jsonschema.draft7_format_checker
    validator = jsonschema.Draft7Validator(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for e in errors:
        where = "/".join(str(p) for p in e.absolute_path) or "(document)"
        print(f"{where}: {e.message[:300]}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
