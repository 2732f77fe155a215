#!/usr/bin/python3
"""man.py - a man page (roff) from its source in docs/man/<name>.<section>.md.

The sources are plain Markdown, readable on their own next to the docs, in a small
subset this script turns into man(7) macros:

    # name(section) - one line summary      the NAME line (first line, required)
    ## SECTION                              .SH
    blank-line separated paragraphs         .PP
    - `term`: text                          .TP (options, fields, commands)
    - text                                  a bullet
    ```                                     a literal block (.nf/.fi)
    `code` **bold** *italic*                \\fB \\fB \\fI

Usage: tools/man.py SOURCE.md OUTPUT   (make man; errors name the file and line)
"""

import os
import re
import sys


def inline(text):
    text = text.replace("\\", "\\e")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"\\fI\1\\fR", text)
    return text


def line_out(text):
    """A text line; roff reads a leading . or ' as a request."""
    return ("\\&" + text) if text[:1] in (".", "'") else text


def convert(src, lines):
    m = re.match(r"^# ([\w.-]+)\((\d)\) - (.+)$", lines[0].rstrip("\n")) if lines else None
    if not m:
        raise SystemExit(f"{src}:1: the first line must be '# name(section) - summary'")
    name, section, summary = m.groups()
    out = [f'.TH {name.upper()} {section} "" "skyha" "skyha manual"',
           ".SH NAME", f"{name} \\- {inline(summary)}"]
    literal = False
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.extend(line_out(inline(p)) for p in para)
            para.clear()

    for no, raw in enumerate(lines[1:], start=2):
        text = raw.rstrip("\n")
        if text.startswith("```"):
            flush()
            out.append(".fi" if literal else ".nf")
            if not literal:
                out.append(".RS 4")
            else:
                out.insert(len(out) - 1, ".RE")
            literal = not literal
            continue
        if literal:
            out.append(line_out(text.replace("\\", "\\e")))
            continue
        if not text.strip():
            flush()
            continue
        if text.startswith("## "):
            flush()
            out.append(f".SH {text[3:].strip().upper()}")
            continue
        if text.startswith("#"):
            raise SystemExit(f"{src}:{no}: only '# name(section)' and '## SECTION' headings")
        item = re.match(r"^- `([^`]+)`:\s*(.*)$", text)
        if item:
            flush()
            out += [".TP", f"\\fB{inline(item.group(1))}\\fR", line_out(inline(item.group(2)))]
            continue
        if text.startswith("- "):
            flush()
            out += [".IP \\(bu 2", line_out(inline(text[2:]))]
            continue
        if text.startswith("  ") and out and not para and out[-1] != ".PP":
            out.append(line_out(inline(text.strip())))  # continuation of an item
            continue
        para.append(text.strip())
    if literal:
        raise SystemExit(f"{src}: a ``` block is not closed")
    flush()
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: tools/man.py SOURCE.md OUTPUT")
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        text = convert(src, f.readlines())
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    with open(dst + ".tmp", "w") as f:
        f.write(text)
    os.rename(dst + ".tmp", dst)


if __name__ == "__main__":
    main()
