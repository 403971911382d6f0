"""The man pages (man/*.8): every option that `ipvsadm -h` prints and every
extension is described, and the pages render without a warning (groff with
all warnings, man -l, mandoc's linter where installed)."""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN = os.path.join(ROOT, "man")
PAGES = ("ipvsadm.8", "ipvsadm-save.8", "ipvsadm-restore.8")
HELP = os.path.join(ROOT, "tests", "data", "cli", "help.txt")
EXTENSIONS = ("--json", "-j", "--pretty", "--apply", "--dry-run", "--atomic", "--netns",
              "--status", "--about", "--drain", "--prometheus", "--labels", "--watch", "--scope")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")

needs_groff = pytest.mark.skipif(shutil.which("groff") is None,
                                 reason="groff is not installed (scripts/test installs it)")


def help_options():
    with open(HELP) as f:
        return sorted(set(OPTION.findall(f.read())))


def render(page):
    # one very long line and no hyphenation, so no option is broken in two;
    # -P-cbou: plain characters, no overstriking
    p = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", "-rLL=3000n", "-rHY=0",
                        os.path.join(MAN, page)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def words(text):
    return set(OPTION.findall(text))


def section(text, name):
    m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)" % name, text, re.S | re.M)
    assert m, "no %s section" % name
    return m.group(1)


def test_help_has_the_options_we_expect():
    # the parser of help.txt itself: a sample of what it must find
    opts = help_options()
    for o in ("-A", "-E", "-l", "-6", "--tcp-service", "--sched-flags", "--mcast-ttl", "-h"):
        assert o in opts
    assert len(opts) > 60


@needs_groff
def test_every_help_option_is_in_ipvsadm_8():
    missing = [o for o in help_options() if o not in words(render("ipvsadm.8"))]
    assert not missing, "not in man/ipvsadm.8: %s" % missing


@needs_groff
def test_every_extension_is_in_the_extensions_section():
    ext = words(section(render("ipvsadm.8"), "EXTENSIONS"))
    missing = [o for o in EXTENSIONS if o not in ext]
    assert not missing, "not in EXTENSIONS: %s" % missing


@needs_groff
def test_save_and_restore_pages():
    save = render("ipvsadm-save.8")
    assert "-n" in words(section(save, "OPTIONS"))
    restore = render("ipvsadm-restore.8")
    for text in (save, restore):
        assert "ipvsadm(8)" in section(text, "SEE ALSO")


@needs_groff
@pytest.mark.parametrize("page", PAGES)
def test_groff_renders_without_warnings(page):
    p = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(MAN, page)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
@pytest.mark.parametrize("page", PAGES)
def test_man_renders_without_warnings(page):
    p = subprocess.run(["man", "--warnings=all", "-l", os.path.join(MAN, page)],
                       capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80",
                                                                MANPAGER="cat", PAGER="cat"))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert "EXTENSIONS" in p.stdout or page != "ipvsadm.8"


@pytest.mark.skipif(shutil.which("mandoc") is None, reason="mandoc is not installed")
@pytest.mark.parametrize("page", PAGES)
def test_mandoc_lint_is_clean(page):
    p = subprocess.run(["mandoc", "-T", "lint", "-W", "all", os.path.join(MAN, page)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout + p.stderr == "", p.stdout + p.stderr
