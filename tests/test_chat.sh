#!/bin/sh
# test_chat.sh -- `acore chat` on a pseudo-terminal, as a person uses it
# (make check).
#
# tests/pty_drive runs acore on a pseudo-terminal and follows a script:
# it waits for text (each wait has a deadline), types lines, presses
# Ctrl-C and Ctrl-D, and checks the exit status.  Checked: two turns, a
# Ctrl-C in the middle of a reply and a turn after it, /save and then
# /load in a new process, -c continuing the chat, the other commands
# (/system, /model, /provider, /reset, /help, a typo), Ctrl-C at the
# prompt (a typed line dropped; twice at an empty prompt leaves), and, for
# a single prompt on a terminal, the spinner while waiting and Ctrl-C as
# SIGINT from the keyboard.  The shared steps are in mockd.sh.
#
# Exit status: 0 all passed, 1 a check failed, 99 the test could not run.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
ME=test_chat
. "$(dirname "$0")/mockd.sh"
ACORE="$top_builddir/cli/acore"
PTY="$top_builddir/tests/pty_drive"

[ -x "$ACORE" ] || hard_error "$ACORE is not built"
[ -x "$PTY" ] || hard_error "$PTY is not built"
mockd_begin acore-chat
# A plain terminal and a UTF-8 locale, whatever the caller's.
TERM=dumb
LC_ALL=C.UTF-8
export TERM LC_ALL

SECRET="sk-test-NEVER-PRINT-4242"
cat >"$tmp/script.conf" <<'EOF'
reply = "Hello from the chat mock.";
chunks = 4;
scenarios = (
  { model = "echo"; echo = true; },
  { model = "second"; reply = "The second reply."; },
  { model = "third"; reply = "The third reply."; },
  { model = "slow"; reply_len = 20000; chunks = 1000; delay_ms = 20; },
  { model = "wait"; first_byte_delay_ms = 1500; }
);
EOF
mockd_start
mockd_config
data="$HOME/.local/share/abstractcore"

# The replies differ from the lines typed: a line typed while a reply is
# still printing (the terminal is not yet libedit's) is echoed twice, by
# the terminal and by libedit, and must not pass for a reply.
#
# drive NAME CMD...: run CMD on a terminal with the script $tmp/NAME.pty;
# the transcript goes to $tmp/NAME.out and pty_drive's report to
# $tmp/NAME.err.
drive() {
    name=$1
    shift
    "$PTY" -t 15 -o "$tmp/$name.out" "$@" <"$tmp/$name.pty" >"$tmp/$name.log" 2>"$tmp/$name.err"
    rc=$?
    cp "$tmp/$name.out" "$tmp/out" 2>/dev/null || : >"$tmp/out"
    cp "$tmp/$name.err" "$tmp/err"
}

# ---------------------------------------------------------------------
# Two turns, Ctrl-C in a reply, a turn after it, /save
# ---------------------------------------------------------------------

cat >"$tmp/turns.pty" <<'EOF'
expect acore chat: provider mock, model default.
expect > 
send Say hello
expect Hello from the chat mock.
expect > 
send /model second
expect [now mock, model second]
expect > 
send second turn
expect The second reply.
expect > 
send /model slow
expect > 
send a long answer please
expect a long answer please\r\n
# Some of the reply, then Ctrl-C.
bytes 200
intr
expect ^C
expect [cancelled; Ctrl-C at the empty prompt leaves]
expect > 
send /model third
expect > 
send after the cancel
expect The third reply.
expect > 
send /save first-chat
expect [saved 6 messages to 
expect first-chat.json]
expect > 
send /exit
exit 0
EOF
drive turns "$ACORE" -C "$CONF" chat
if [ $rc -eq 0 ] && [ -f "$data/sessions/first-chat.json" ] &&
   [ "$(grep -c '"role": *"user"' "$data/sessions/first-chat.json")" -eq 3 ] &&
   grep -q '"content": *"after the cancel"' "$data/sessions/first-chat.json" &&
   ! grep -q 'a long answer please' "$data/sessions/first-chat.json" &&
   ! grep -q -- "$SECRET" "$data/sessions/first-chat.json"; then
    pass "two turns, Ctrl-C mid-reply, another turn, /save: the cancelled turn is not kept"
else fail "turns, Ctrl-C, /save"; fi

# ---------------------------------------------------------------------
# /load in a new process; -c continues
# ---------------------------------------------------------------------

cat >"$tmp/load.pty" <<'EOF'
expect > 
send /load first-chat
expect [loaded 6 messages from 
expect > 
send /model second
expect > 
send and one more
expect The second reply.
expect > 
eof
exit 0
EOF
drive load "$ACORE" -C "$CONF" chat
if [ $rc -eq 0 ] && [ "$(grep -c '"role": *"user"' "$data/last-session.json")" -eq 4 ] &&
   grep -q '"content": *"Say hello"' "$data/last-session.json"; then
    pass "/load in a new process brings the conversation back; Ctrl-D leaves"
else fail "/load"; fi

cat >"$tmp/cont.pty" <<'EOF'
expect (conversation continued)
expect > 
send /exit
exit 0
EOF
drive cont "$ACORE" -C "$CONF" -c chat
if [ $rc -eq 0 ]; then
    pass "acore -c chat continues the last conversation"
else fail "-c chat"; fi

# ---------------------------------------------------------------------
# The other commands
# ---------------------------------------------------------------------

cat >"$tmp/cmds.pty" <<'EOF'
expect > 
send /system Answer in one word.
expect [system prompt set]
expect > 
send /system
expect [system prompt: Answer in one word.]
expect > 
send /provider mock second
expect [now mock, model second]
expect > 
send /model
expect [provider mock, model second]
expect > 
send /modle x
expect /modle is not a command (did you mean /model?)
expect > 
send /help
expect /save NAME|FILE
expect /exit
expect > 
send kept
expect The second reply.
expect > 
send /reset
expect [conversation cleared; the system prompt stays]
expect > 
send /save after-reset
expect [saved 0 messages
expect > 
send /provider no-such-provider
expect acore --demo
expect > 
send /quit
exit 0
EOF
drive cmds "$ACORE" -C "$CONF" chat
if [ $rc -eq 0 ] && grep -q '"system": *"Answer in one word."' "$data/sessions/after-reset.json"; then
    pass "/system, /provider, /model, a typo, /help, /reset (keeps the system prompt), /quit"
else fail "chat commands"; fi

# ---------------------------------------------------------------------
# Ctrl-C at the prompt
# ---------------------------------------------------------------------

cat >"$tmp/intr.pty" <<'EOF'
expect > 
# Ctrl-A X: only libedit (not the terminal) turns this into "Xhalf...",
# so once it shows, libedit has read the line.
type half a line\x01X
expect Xhalf a line
intr
expect \n> 
intr
expect [Ctrl-C again to leave, or /exit]
expect \n> 
intr
exit 0
EOF
drive intr "$ACORE" -C "$CONF" chat
if [ $rc -eq 0 ]; then
    pass "Ctrl-C drops a typed line; twice at an empty prompt leaves"
else fail "Ctrl-C at the prompt"; fi

cat >"$tmp/intr2.pty" <<'EOF'
expect > 
send /model slow
expect > 
send go on and on
expect go on and on\r\n
bytes 100
intr
expect [cancelled
expect \n> 
intr
exit 0
EOF
drive intr2 "$ACORE" -C "$CONF" chat
if [ $rc -eq 0 ]; then
    pass "a Ctrl-C right after a cancelled reply leaves"
else fail "Ctrl-C after a cancel"; fi

# ---------------------------------------------------------------------
# A single prompt on a terminal: the spinner, Ctrl-C from the keyboard
# ---------------------------------------------------------------------

cat >"$tmp/spin.pty" <<'EOF'
expect waiting for the reply (Ctrl-C cancels)
expect Hello from the chat mock.
exit 0
EOF
drive spin "$ACORE" -C "$CONF" -m wait "Say hello"
if [ $rc -eq 0 ]; then
    pass "a spinner on a terminal while waiting for the first token"
else fail "spinner"; fi

cat >"$tmp/oneshot.pty" <<'EOF'
bytes 300
intr
exit 130
EOF
drive oneshot "$ACORE" -C "$CONF" -m slow "Tell me everything"
if [ $rc -eq 0 ]; then
    pass "Ctrl-C from the keyboard cancels a single prompt: exit 130"
else fail "Ctrl-C on a single prompt"; fi

mockd_summary
