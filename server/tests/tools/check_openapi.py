#!/usr/bin/env python3
"""Checks the API's OpenAPI document from outside, with tools that are not ours.

    check_openapi.py DOC.json [PATH=BODY.json ...]

1. DOC validates as OpenAPI 3.1 (openapi-spec-validator).
2. Every example in it — of a response, a schema or a parameter — validates against the
   schema beside it (JSON Schema 2020-12, jsonschema), with no property the schema does
   not declare (so an example, made by the server's own serializer, cannot carry a field
   the document forgot).
3. Each BODY (a real answer of GET PATH, saved by the test) validates against PATH's 200
   schema the same way.

Prints what it checked; exits 1 with the reasons when anything fails.
"""

import json
import sys

import jsonschema
from openapi_spec_validator import validate
from openapi_spec_validator.versions import consts  # noqa: F401  (0.7+ layout)


def checker(doc):
    components = doc.get("components", {})

    def resolve(schema):
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            assert ref.startswith("#/"), ref
            node = doc
            for part in ref[2:].split("/"):
                node = node[part]
            schema = node
        return schema

    def valid(schema, instance):
        root = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": components,
            "allOf": [schema],
        }
        return jsonschema.Draft202012Validator(root).is_valid(instance)

    def undeclared(schema, inst, where, problems):
        """Properties of `inst` that `schema` does not declare, at any depth."""
        schema = resolve(schema)
        if not isinstance(schema, dict):
            return
        for alt in ("oneOf", "anyOf"):
            if alt in schema:
                for branch in schema[alt]:
                    if valid(branch, inst):
                        undeclared(branch, inst, where, problems)
                        return
        if isinstance(inst, dict):
            props = {}
            parts = [schema] + [resolve(p) for p in schema.get("allOf", [])]
            for part in parts:
                props.update(part.get("properties", {}))
            if not props:
                return
            for key, value in inst.items():
                if key not in props:
                    problems.append(f"{where}: {key!r} is not in the schema")
                else:
                    undeclared(props[key], value, f"{where}.{key}", problems)
        elif isinstance(inst, list) and "items" in schema:
            for i, value in enumerate(inst):
                undeclared(schema["items"], value, f"{where}[{i}]", problems)

    def check(schema, instance, where, problems):
        root = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": components,
            "allOf": [schema],
        }
        v = jsonschema.Draft202012Validator(root)
        errors = sorted(v.iter_errors(instance), key=lambda e: list(e.path))
        for e in errors:
            problems.append(f"{where}: {e.message} at {list(e.absolute_path)}")
        before = len(problems)
        undeclared(schema, instance, where, problems)
        return not errors and len(problems) == before

    return check


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    problems = []
    try:
        validate(doc)
    except Exception as e:  # the validator's own error types vary by version
        problems.append(f"not valid OpenAPI: {str(e)[:2000]}")
    if not str(doc.get("openapi", "")).startswith("3.1"):
        problems.append(f"openapi is {doc.get('openapi')!r}, not 3.1.x")
    print(f"OpenAPI {doc.get('openapi')}: {len(doc.get('paths', {}))} paths, validated")
    check = checker(doc)
    examples = 0
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, resp in op["responses"].items():
                for ctype, content in resp.get("content", {}).items():
                    schema = content.get("schema")
                    found = []
                    if "example" in content:
                        found.append(content["example"])
                    found += [e.get("value") for e in content.get("examples", {}).values()]
                    if schema is None:
                        continue
                    if not found and status.startswith("2") and ctype.endswith("json"):
                        problems.append(f"{method.upper()} {path} {status}: no example")
                    for ex in found:
                        examples += 1
                        check(schema, ex, f"{method.upper()} {path} {status} {ctype} example", problems)
            for p in op.get("parameters", []):
                if "example" in p and "schema" in p:
                    examples += 1
                    check(p["schema"], p["example"], f"{path} parameter {p['name']} example", problems)
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        for ex in ([schema["example"]] if "example" in schema else []) + schema.get("examples", []):
            examples += 1
            check(schema, ex, f"schema {name} example", problems)
    print(f"{examples} examples checked against their schemas")
    for pair in argv[2:]:
        path, _, body_file = pair.partition("=")
        with open(body_file, encoding="utf-8") as f:
            body = json.load(f)
        op = doc["paths"].get(path, {}).get("get")
        if op is None:
            problems.append(f"{path}: not in the document")
            continue
        content = op["responses"]["200"]["content"]
        schema = next(iter(content.values()))["schema"]
        if check(schema, body, f"real answer of GET {path}", problems):
            print(f"real answer of GET {path}: matches its schema")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
