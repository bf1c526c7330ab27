#!/usr/bin/env python3
"""Structure figures of a source tree (default src/): bare `pub` item declarations and fields,
functions over 50 lines and files over 400 lines of non-test code (blank and comment lines
not counted). The layering itself is checked by tests/it/layers.rs.

    python3 scripts/structure_figures.py [SRC_DIR]
"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
items = fields = crate = 0
longfns = []
bigfiles = []
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs') or 'tests' in f or 'test_support' in f:
            continue
        p = os.path.join(d, f)
        lines = open(p).read().split('\n')
        code = []
        for i, l in enumerate(lines):
            if re.match(r'\s*#\[cfg\(test\)\]', l) and i + 1 < len(lines) and re.match(r'\s*mod \w+ \{', lines[i + 1]):
                break
            code.append(l)
        for l in code:
            if re.match(r'\s*pub (async )?(fn|struct|enum|const|static|type|trait|mod|use) ', l):
                items += 1
            elif re.match(r'\s*pub [a-z_0-9]+\s*:', l):
                fields += 1
            elif re.match(r'\s*pub\(crate\) ', l):
                crate += 1
        n = sum(1 for l in code if l.strip() and not l.strip().startswith('//'))
        if n > 400:
            bigfiles.append((n, p))
        for i, l in enumerate(code):
            m = re.match(r'(\s*)(pub(\([^)]*\))? )?(const )?(async )?fn (\w+)', l)
            if not m:
                continue
            ind, j = m.group(1), i
            while j < len(code) and not code[j].rstrip().endswith(('{', ';')):
                j += 1
            if j == len(code) or not code[j].rstrip().endswith('{'):
                continue
            k = j + 1
            while k < len(code) and code[k].rstrip() != ind + '}':
                k += 1
            if k - i + 1 > 50:
                longfns.append((k - i + 1, p, m.group(6)))
print(f'bare pub items: {items}; bare pub fields: {fields}; pub(crate): {crate}')
print(f'functions over 50 lines: {len(longfns)}')
for x in sorted(longfns, reverse=True):
    print('  ', *x)
print(f'files over 400 lines of non-test code: {len(bigfiles)}')
for x in sorted(bigfiles, reverse=True):
    print('  ', *x)
