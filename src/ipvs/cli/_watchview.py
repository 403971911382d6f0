# ipvsadm -L --watch [SECONDS]: a top-like live view of the services and
# their real servers, with per-interval rates (ipvs.watch).
#
# Rule: layout() is a pure function from rows to screen lines (tested on
# the host); the three drivers only read keys, sizes and the clock:
# curses when there is a terminal and the curses module, plain ANSI
# escapes when curses is missing (or IPVS_WATCH_UI=ansi), plain text
# frames when standard output is not a terminal (or IPVS_WATCH_UI=plain).
# Every driver leaves the terminal as it found it, on q, Ctrl-C or SIGTERM.
from __future__ import annotations

import os
import signal
import time

from . import _options as O
from ._run import Exit

COL_WIDTH = 10
MIN_NAME = 24
HELP = "keys: n c p P b B t a i w sort, r reverse, q quit"
KEY_WAIT = 0.1  # seconds a driver waits for a key


class State:
    def __init__(self, interval):
        self.interval = interval
        self.sort = "conn_rate"
        self.descending = True
        self.quit = False

    def key(self, ch):
        """Act on one key; True when the view must be drawn again."""
        from ..watch import SORT_KEYS
        if ch in ("q", "Q"):
            self.quit = True
        elif ch == "r":
            self.descending = not self.descending
        elif ch in SORT_KEYS:
            if SORT_KEYS[ch] == self.sort:
                self.descending = not self.descending
            else:
                self.sort, self.descending = SORT_KEYS[ch], True
        else:
            return False
        return True


def layout(gs, state, width, height, when=None, exact=False):
    """The screen as lines of at most `width` characters (at most `height`
    lines; None: no limit). Columns that do not fit are left out from the
    right, the name is cut last."""
    from ..watch import COLUMNS, cells, sort_groups, total_row
    total = total_row(gs)
    gs = sort_groups(gs, state.sort, state.descending)
    ncols = len(COLUMNS) - 1
    while ncols > 1 and MIN_NAME + ncols * COL_WIDTH > width:
        ncols -= 1
    name_w = max(min(width - ncols * COL_WIDTH, 60), 8)

    def line(values):
        text = values[0][:name_w].ljust(name_w)
        text += "".join(v.rjust(COL_WIDTH) for v in values[1:ncols + 1])
        return text[:width].rstrip()

    titles = [t + ("*" if attr == state.sort else "") for _, t, attr in COLUMNS]
    order = "desc" if state.descending != (state.sort == "name") else "asc"
    head = "IPVS every %gs%s, sorted by %s (%s); %s" % (
        state.interval, time.strftime(" %H:%M:%S", time.localtime(when)) if when else "",
        titles[[a for _, _, a in COLUMNS].index(state.sort)].rstrip("*"), order, HELP)
    t = cells(total, exact)
    summary = "total: %s conn/s, %s/%s pkt/s in/out, %s/%s B/s in/out; %s conns, %s active, " \
              "%s inactive; %d services" % (t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8],
                                            len(gs))
    lines = [head[:width], summary[:width], "", line(titles)]
    for s, ds in gs:
        lines.append(line(cells(s, exact)))
        lines.extend(line(cells(d, exact)) for d in ds)
    if height is not None:
        lines = lines[:max(height, 1)]
    return lines


def _ui(out):
    from ._opsrun import is_tty
    forced = os.environ.get("IPVS_WATCH_UI", "")
    if forced in ("plain", "ansi", "curses"):
        return forced
    if not is_tty(out):
        return "plain"
    try:
        import curses  # noqa: F401
    except ImportError:
        return "ansi"
    return "curses" if os.environ.get("TERM") not in (None, "", "dumb") else "ansi"


def watch_listing(runner, argv):
    from ._opsmetrics import _listing
    ce = _listing(argv, "--watch")
    if ce.has(O.O_SERVICE):
        raise Exit(2, "--watch shows every service; it takes no -t, -u or -f")
    from .. import KernelError
    from ..watch import groups, take_sample
    client = runner.client
    state = State(runner.x.ops.watch)
    exact = bool(ce.format & O.FMT_EXACT)

    def read(prev):
        try:
            cur = take_sample(client)
        except KernelError as e:
            raise Exit(1, e.strerror) from None
        return cur, groups(prev, cur)

    ui = _ui(runner.out)
    old = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):
        old = None
    try:
        if ui == "plain":
            _plain(runner.out, state, read, exact)
        elif ui == "curses":
            _run_curses(state, read, exact)
        else:
            _ansi(runner.out, state, read, exact)
    except KeyboardInterrupt:
        pass
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    return 0


def _plain(out, state, read, exact):
    """A frame of text lines every interval (from the second reading on,
    when there are rates), for logs and pipes."""
    prev, _ = read(None)
    while True:
        time.sleep(max(state.interval - (time.monotonic() - prev.time), 0))
        cur, gs = read(prev)
        out.write("\n".join(layout(gs, state, 1000, None, time.time(), exact)) + "\n\n")
        out.flush()
        prev = cur


def _loop(state, read, draw, next_key):
    """The terminal drivers' loop: a reading every interval, a redraw when
    something changed; draw(groups) draws, next_key() waits up to KEY_WAIT
    seconds and returns a key, "resize" or None (also at once when the
    input is at its end: then the loop waits, so a view whose standard
    input is /dev/null or a closed pipe does not spin a CPU)."""
    prev, gs = read(None)
    dirty = True
    while not state.quit:
        if time.monotonic() - prev.time >= state.interval:
            prev, gs = read(prev)
            dirty = True
        if dirty:
            draw(gs)
            dirty = False
        t = time.monotonic()
        k = next_key()
        if k is None:  # no key: input at its end answers at once, so wait here
            time.sleep(max(KEY_WAIT - (time.monotonic() - t), 0))
        elif k == "resize":
            dirty = True
        elif k is not None:
            dirty = state.key(k)


def _run_curses(state, read, exact):
    """curses.wrapper around the driver, with LINES and COLUMNS out of the
    environment meanwhile: ncurses takes them over the terminal's own size,
    at the start and at every SIGWINCH, so exported ones pin the view to a
    size the window may no longer have (seen in the VM's tmux: LINES=40
    COLUMNS=150, the window's first size; after a resize to 60x8 ncurses
    went on drawing 150x40 frames into it). Put back on the way out."""
    import curses
    saved = {k: os.environ.pop(k) for k in ("LINES", "COLUMNS") if k in os.environ}
    try:
        curses.wrapper(lambda scr: _curses(scr, state, read, exact))
    finally:
        os.environ.update(saved)


def _curses(scr, state, read, exact):
    import curses
    try:
        curses.curs_set(0)
    except curses.error:
        pass
    scr.timeout(int(KEY_WAIT * 1000))

    def draw(gs):
        h, w = scr.getmaxyx()
        scr.erase()
        for y, text in enumerate(layout(gs, state, w - 1, h, time.time(), exact)):
            try:
                scr.addstr(y, 0, text, curses.A_REVERSE if y == 3 else curses.A_NORMAL)
            except curses.error:
                pass
        scr.refresh()

    def size_changed():
        """The terminal's size against curses' idea of it: a SIGWINCH that
        came before ncurses set its handler (at start) is lost."""
        try:
            size = os.get_terminal_size(1)  # the terminal curses writes to
        except OSError:
            return False
        if not curses.is_term_resized(size.lines, size.columns):
            return False
        curses.resizeterm(size.lines, size.columns)
        return True

    def next_key():
        ch = scr.getch()
        if ch == curses.KEY_RESIZE or size_changed():
            curses.update_lines_cols()
            return "resize"
        return chr(ch) if 0 <= ch < 256 else None
    _loop(state, read, draw, next_key)


def _ansi(out, state, read, exact):
    """The same view with VT100 escapes: the alternate screen, no cursor,
    the terminal in cbreak mode, all put back on the way out."""
    import select
    import sys
    import termios
    import tty
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    resized = []
    old_winch = signal.signal(signal.SIGWINCH, lambda s, f: resized.append(1))

    def draw(gs):
        size = os.get_terminal_size(out.fileno())
        lines = layout(gs, state, size.columns - 1, size.lines, time.time(), exact)
        out.write("\033[H\033[2J" + "\r\n".join(lines))
        out.flush()

    def next_key():
        if resized:
            del resized[:]
            return "resize"
        try:
            ready = select.select([fd], [], [], KEY_WAIT)[0]
        except InterruptedError:
            return None
        return (os.read(fd, 1).decode("latin-1") or None) if ready else None
    out.write("\033[?1049h\033[?25l")
    out.flush()
    try:
        if saved is not None:
            tty.setcbreak(fd)
        _loop(state, read, draw, next_key)
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, old_winch)
        out.write("\033[?25h\033[?1049l")
        out.flush()
