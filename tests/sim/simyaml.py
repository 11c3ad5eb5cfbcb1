# SPDX-License-Identifier: MIT
"""A small YAML reader for the manifests the simulators load themselves (standard
library only): block mappings and sequences, flow sequences and mappings of scalars,
plain, single- and double-quoted scalars, comments and `---` documents. Anything
else (anchors, tags, block scalars, multi-line flow) is refused with the line number,
so a manifest that needs more cannot be misread silently. PyYAML reads the same
files identically (tests/e2e/kube/test_crd.py checks it)."""
import json
import re


class YamlError(ValueError):
    pass


_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def _scalar(text, lineno):
    t = text.strip()
    if t == "" or t in ("~", "null", "Null", "NULL"):
        return None
    if t[0] in "&*!|>%@`":
        raise YamlError(f"line {lineno}: unsupported YAML construct {t[:20]!r}")
    if t[0] == '"':
        if not t.endswith('"') or len(t) < 2:
            raise YamlError(f"line {lineno}: unterminated double-quoted string")
        try:
            return json.loads(t)
        except ValueError:
            raise YamlError(f"line {lineno}: bad double-quoted string {t!r}")
    if t[0] == "'":
        if not t.endswith("'") or len(t) < 2:
            raise YamlError(f"line {lineno}: unterminated single-quoted string")
        return t[1:-1].replace("''", "'")
    if t[0] == "[":
        if not t.endswith("]"):
            raise YamlError(f"line {lineno}: multi-line flow sequences are not supported")
        inner = t[1:-1].strip()
        return [_scalar(x, lineno) for x in _split_flow(inner, lineno)] if inner else []
    if t[0] == "{":
        if not t.endswith("}"):
            raise YamlError(f"line {lineno}: multi-line flow mappings are not supported")
        out = {}
        inner = t[1:-1].strip()
        for item in (_split_flow(inner, lineno) if inner else []):
            k, sep, v = _split_key(item)
            if not sep:
                raise YamlError(f"line {lineno}: bad flow mapping entry {item!r}")
            out[_scalar(k, lineno)] = _scalar(v, lineno)
        return out
    # YAML 1.1 booleans, as PyYAML and kubectl's go-yaml read them
    if t in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"):
        return True
    if t in ("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"):
        return False
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t) and any(c.isdigit() for c in t):
        return float(t)
    return t


def _split_flow(s, lineno):
    out, depth, cur, quote = [], 0, "", None
    for c in s:
        if quote:
            cur += c
            if c == quote:
                quote = None
            continue
        if c in "\"'" and (not cur.strip() or cur.rstrip().endswith(":")):
            quote = c  # a quoted scalar starts here (an apostrophe inside a plain one does not)
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
    if quote or depth:
        raise YamlError(f"line {lineno}: unbalanced flow collection")
    if cur.strip():
        out.append(cur.strip())
    return out


def _strip_comment(line):
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _split_key(text):
    """'key: value' -> (key, ':', value); the colon must be followed by a space or end."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'" and i == 0:
            quote = c
        elif c == ":" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i].strip(), ":", text[i + 1:].strip()
    return text, "", ""


def load_all(text):
    """The documents of text, as Python objects (empty documents skipped)."""
    docs, cur = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.strip() in ("---", "..."):
            docs.append(cur)
            cur = []
            continue
        if "\t" in raw[:len(raw) - len(raw.lstrip())]:
            raise YamlError(f"line {n}: tabs are not allowed in indentation")
        line = _strip_comment(raw)
        if line.strip():
            cur.append((n, len(line) - len(line.lstrip()), line.strip()))
    docs.append(cur)
    out = []
    for lines in docs:
        if not lines:
            continue
        if len(lines) == 1 and lines[0][2][0] in "[{\"'" or (len(lines) == 1 and not _split_key(lines[0][2])[1]
                                                            and not lines[0][2].startswith("- ")):
            out.append(_scalar(lines[0][2], lines[0][0]))  # a document that is one flow collection or scalar
            continue
        value, pos = _block(lines, 0, lines[0][1])
        if pos != len(lines):
            raise YamlError(f"line {lines[pos][0]}: unexpected indentation")
        out.append(value)
    return out


def load(text):
    docs = load_all(text)
    if len(docs) != 1:
        raise YamlError(f"expected one document, found {len(docs)}")
    return docs[0]


def _block(lines, pos, indent):
    if lines[pos][2].startswith("- ") or lines[pos][2] == "-":
        return _seq(lines, pos, indent)
    return _map(lines, pos, indent)


def _value_after(lines, pos, n, indent, rest):
    """The value of a key or sequence item whose inline text is rest."""
    if rest:
        return _scalar(rest, n), pos + 1
    if pos + 1 < len(lines) and (lines[pos + 1][1] > indent or
                                 (lines[pos + 1][1] == indent and lines[pos + 1][2].startswith("-"))):
        return _block(lines, pos + 1, lines[pos + 1][1])
    return None, pos + 1


def _map(lines, pos, indent):
    out = {}
    while pos < len(lines):
        n, ind, text = lines[pos]
        if ind < indent:
            break
        if ind > indent:
            raise YamlError(f"line {n}: unexpected indentation")
        if text.startswith("- "):
            break
        key, sep, rest = _split_key(text)
        if not sep:
            raise YamlError(f"line {n}: expected 'key: value', got {text!r}")
        key = _scalar(key, n)
        if key in out:
            raise YamlError(f"line {n}: duplicate key {key!r}")
        if rest and rest[0] in "|>":
            raise YamlError(f"line {n}: block scalars are not supported")
        # a sequence may sit at the same indentation as its key
        val, pos = _value_after(lines, pos, n, indent, rest)
        out[key] = val
    return out, pos


def _seq(lines, pos, indent):
    out = []
    while pos < len(lines):
        n, ind, text = lines[pos]
        if ind < indent or not (text.startswith("- ") or text == "-"):
            if ind > indent:
                raise YamlError(f"line {n}: unexpected indentation")
            break
        if ind > indent:
            raise YamlError(f"line {n}: unexpected indentation")
        rest = text[1:].strip()
        if not rest:
            val, pos = _value_after(lines, pos, n, indent, "")
            out.append(val)
            continue
        key, sep, kv = _split_key(rest)
        nested = rest.startswith("- ") or rest == "-"
        if nested or (sep and not rest.startswith(("[", "{", '"', "'"))):
            # "- key: value" opens a mapping ("- - x" a sequence) indented at its column
            col = ind + (len(text) - len(rest))
            sub = [(n, col, rest)]
            j = pos + 1
            while j < len(lines) and lines[j][1] >= col:
                sub.append(lines[j])
                j += 1
            val, used = (_seq if nested else _map)(sub, 0, col)
            if used != len(sub):
                raise YamlError(f"line {sub[used][0]}: unexpected indentation")
            out.append(val)
            pos = j
        else:
            out.append(_scalar(rest, n))
            pos += 1
    return out, pos
