#!/usr/bin/env python3
# Rebuilds the tokenizer parity corpus (tests/data/tokenizer-corpus/*.txt) from text installed on a Debian 12
# machine: localized man pages, gettext translations, package documentation and source files. README.md in
# this folder lists where each file comes from. The committed files are what the tests use; this script only
# records how they were cut. crafted.json is written by hand and not touched here.
import gzip
import os
import subprocess
import sys
import unicodedata

OUT = os.path.dirname(os.path.abspath(__file__))


def read(path):
    data = open(path, "rb").read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace").replace("\ufffd", "")


def cut(text, limit):
    """The first `limit` bytes of text, ending on a line boundary."""
    out, size = [], 0
    for line in text.splitlines(keepends=True):
        n = len(line.encode("utf-8"))
        if size + n > limit:
            break
        out.append(line)
        size += n
    return "".join(out)


def drop_roff_comments(text):
    return "".join(l for l in text.splitlines(keepends=True) if not l.startswith(('.\\"', "'\\\"")))


def gather(paths, limit, per_file, clean=lambda text: text):
    parts, size = [], 0
    for p in paths:
        if not os.path.exists(p):
            continue
        piece = cut(clean(read(p)), per_file)
        if not piece.strip():
            continue
        parts.append(piece)
        size += len(piece.encode("utf-8"))
        if size >= limit:
            break
    return cut("\n".join(parts), limit)


def man_pages(lang, limit):
    folder = f"/usr/share/man/{lang}/man1"
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return gather([os.path.join(folder, n) for n in names], limit, 6000, drop_roff_comments)


def translations(lang, domains, limit):
    """The translated strings (msgstr) of gettext catalogs, one paragraph each."""
    texts = []
    for domain in domains:
        mo = f"/usr/share/locale/{lang}/LC_MESSAGES/{domain}.mo"
        if not os.path.exists(mo):
            continue
        po = subprocess.run(["msgunfmt", "--no-wrap", mo], capture_output=True, text=True, check=True).stdout
        current, in_str = [], False
        for line in po.splitlines():
            if line.startswith("msgstr"):
                in_str = True
                current = [line.split(" ", 1)[1]]
            elif in_str and line.startswith('"'):
                current.append(line)
            else:
                if in_str and current:
                    value = "".join(s[1:-1] for s in current)
                    value = value.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")
                    if value.strip() and "Project-Id-Version" not in value:
                        texts.append(value)
                in_str, current = False, []
        if sum(len(t) for t in texts) * 2 > limit:
            break
    return cut("\n\n".join(texts), limit)


def write(name, text):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(f"{name}: {len(text.encode('utf-8'))} bytes", file=sys.stderr)


def main():
    for lang in ["ja", "ko", "zh_CN", "zh_TW", "ru", "uk", "de", "fr", "es", "pl", "tr", "pt_BR"]:
        write(f"man-{lang}.txt", man_pages(lang, 32000))
    domains = ["glib20", "gtk30", "Linux-PAM", "apt", "dpkg", "gtk20", "at-spi2-core", "gdk-pixbuf"]
    for lang in ["ar", "el", "hi", "he", "th", "bn", "ta", "am", "ka", "hy", "fa", "vi", "my", "km", "ml",
                 "te", "pa", "si", "ne", "gu", "kn", "mr"]:
        write(f"po-{lang}.txt", translations(lang, domains, 16000))

    docs = ["/usr/share/doc/bash/README.gz", "/usr/share/doc/apt/README.md.gz", "/usr/share/doc/bc/README",
            "/usr/share/doc/base-files/README.FHS", "/usr/share/doc/coreutils/README.gz",
            "/usr/share/doc/cscope/README", "/usr/share/doc/avahi-daemon/README",
            "/usr/share/doc/bats/README.md.gz", "/usr/share/doc/cpp-12/README.Bugs",
            "/usr/share/doc/bash/README.abs-guide", "/usr/share/doc/dash/README.source"]
    write("doc-en.txt", gather(docs, 90000, 16000))
    write("copyright-en.txt", gather(sorted(f"/usr/share/doc/{d}/copyright" for d in os.listdir("/usr/share/doc")),
                                     120000, 3000))

    write("code-c.txt", gather(["/usr/include/stdio.h", "/usr/include/pcre2.h", "/usr/include/utf8proc.h",
                                "/usr/include/string.h"], 120000, 40000))
    py = "/usr/lib/python3.11"
    write("code-python.txt", gather([f"{py}/json/encoder.py", f"{py}/json/decoder.py", f"{py}/textwrap.py",
                                     f"{py}/string.py", f"{py}/heapq.py"], 80000, 20000))
    write("code-misc.txt", gather(["/usr/share/cmake-3.25/Modules/FindPkgConfig.cmake", "/etc/bash.bashrc",
                                   "/usr/share/doc/apt/examples/configure-index"], 50000, 20000))

    # Decomposed (NFD) text: Qwen normalizes to NFC before splitting, so these test the normalizer.
    for lang in ["vi", "ko"]:
        source = open(os.path.join(OUT, f"{'po-vi' if lang == 'vi' else 'man-ko'}.txt"), encoding="utf-8").read()
        write(f"nfd-{lang}.txt", cut(unicodedata.normalize("NFD", source), 12000))
    source = open(os.path.join(OUT, "man-fr.txt"), encoding="utf-8").read()
    write("nfd-fr.txt", cut(unicodedata.normalize("NFD", source), 12000))


if __name__ == "__main__":
    main()
