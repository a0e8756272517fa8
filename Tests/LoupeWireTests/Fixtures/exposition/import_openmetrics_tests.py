#!/usr/bin/env python3
"""Bundles the OpenMetrics project's parser test cases into openmetrics_parser_tests.json.

    git clone https://github.com/prometheus/OpenMetrics
    python3 import_openmetrics_tests.py path/to/OpenMetrics

Each case of tests/testdata/parsers/<name>/ (a `metrics` file and a test.json saying whether it should parse)
becomes {"name", "shouldParse", "input"} with the input kept byte for byte (in "inputBase64" instead when it is not
UTF-8). The cases are (c) The OpenMetrics Authors, Apache License 2.0.
"""
import base64
import json
import os
import subprocess
import sys


def main():
    root = sys.argv[1]
    parsers = os.path.join(root, 'tests', 'testdata', 'parsers')
    commit = subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    cases = []
    for name in sorted(os.listdir(parsers)):
        with open(os.path.join(parsers, name, 'test.json')) as f:
            meta = json.load(f)
        with open(os.path.join(parsers, name, meta['file']), 'rb') as f:
            data = f.read()
        case = {'name': name, 'shouldParse': meta['shouldParse']}
        try:
            case['input'] = data.decode('utf-8')
        except UnicodeDecodeError:
            case['inputBase64'] = base64.b64encode(data).decode('ascii')
        cases.append(case)
    out = {
        'source': 'https://github.com/prometheus/OpenMetrics tests/testdata/parsers',
        'commit': commit,
        'license': 'Apache-2.0, (c) The OpenMetrics Authors',
        'cases': cases,
    }
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, 'openmetrics_parser_tests.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write('\n')
    print(len(cases), 'cases')


if __name__ == '__main__':
    main()
