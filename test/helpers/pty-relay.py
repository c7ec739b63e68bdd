# Runs a command in a pseudo-terminal (120 columns) and relays: the terminal's output to stdout,
# stdin to the terminal (so a test can type Ctrl-C). Exits with the command's exit status.
#   python3 pty-relay.py COMMAND [ARGS...]
import fcntl, os, pty, select, struct, sys, termios

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
stdin_open = True
while True:
    watched = [fd] + ([0] if stdin_open else [])
    ready, _, _ = select.select(watched, [], [])
    if 0 in ready:
        data = os.read(0, 1024)
        if data:
            os.write(fd, data)
        else:
            stdin_open = False
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the command exited and the terminal closed
            break
        if not data:
            break
        os.write(1, data)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8)
