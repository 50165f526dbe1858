package dev.reins.runtime.worker;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One small shell process per node that outlives its JVM by exactly one step: it reads commands
 * from a pipe whose other end only the JVM holds, and when that end closes — the JVM exited, was
 * killed with SIGKILL or by the OOM killer — it kills every process group in the node's pid files
 * (checking each leader's start time, so a reused pid is never touched). A job's process tree
 * therefore dies within moments of losing its JVM, instead of running on beside the attempt that
 * the cluster starts elsewhere.
 *
 * <p>While the JVM lives, the same process signals process groups for the workers ({@code TERM
 * <pgid>} lines, the shell's builtin kill): no process is spawned per signal. It runs in its own
 * session, so a Ctrl-C to the server's terminal does not reach it; if it dies anyway, it is
 * started again and the workers fall back to spawning {@code kill} meanwhile.
 */
public final class ProcessWatchdog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ProcessWatchdog.class);
  private static final Set<ProcessWatchdog> LIVE = ConcurrentHashMap.newKeySet();

  // Field 22 of /proc/<pid>/stat is the start time in clock ticks (what PidFiles records); after
  // the command name's closing parenthesis it is the 20th field.
  private static final String SCRIPT = String.join("\n",
      "trap '' INT HUP TERM",
      "dir=$1",
      "while read -r sig pgid; do",
      "  kill -s \"$sig\" -- \"-$pgid\" 2>/dev/null",
      "done",
      "for f in \"$dir\"/*.pid; do",
      "  [ -f \"$f\" ] || continue",
      "  read -r pid start < \"$f\" || continue",
      "  stat=$(cat \"/proc/$pid/stat\" 2>/dev/null)",
      "  if [ -n \"$stat\" ]; then",
      "    rest=${stat##*) }",
      "    set -- $rest",
      "    [ \"${20}\" = \"$start\" ] || continue",
      "  fi",
      "  kill -s KILL -- \"-$pid\" 2>/dev/null",
      "done",
      "");

  private final Path pidDir;
  private volatile Process process;
  private volatile OutputStream commands;
  private volatile boolean closed;

  private ProcessWatchdog(Path pidDir) {
    this.pidDir = pidDir;
  }

  /** Starts the watchdog of the pid files under {@code <dataDir>/workers}. */
  public static ProcessWatchdog start(Path dataDir) throws IOException {
    ProcessWatchdog w = new ProcessWatchdog(PidFiles.directory(dataDir));
    Files.createDirectories(w.pidDir);
    w.launch();
    LIVE.add(w);
    return w;
  }

  private synchronized void launch() throws IOException {
    ProcessBuilder pb = new ProcessBuilder(ProcessTree.inOwnSession(
        java.util.List.of("sh", "-c", SCRIPT, "reins-watchdog", pidDir.toString())));
    pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    process = p;
    commands = p.getOutputStream();
    p.onExit().thenRun(() -> {
      if (!closed) {
        log.warn("the process watchdog (pid {}) exited; starting it again", p.pid());
        try {
          launch();
        } catch (IOException e) {
          log.error("could not start the process watchdog again: {}", e.toString());
        }
      }
    });
  }

  /** Signals a process group through a live watchdog; false if none could take it. */
  static boolean signalGroup(long pgid, ProcessTree.Signal signal) {
    for (ProcessWatchdog w : LIVE) {
      if (w.send(signal.name() + " " + pgid + "\n")) {
        return true;
      }
    }
    return false;
  }

  private synchronized boolean send(String line) {
    if (closed || process == null || !process.isAlive()) {
      return false;
    }
    try {
      commands.write(line.getBytes(StandardCharsets.US_ASCII));
      commands.flush();
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  public long pid() {
    return process.pid();
  }

  /** Closes the pipe: the watchdog kills what is still in the pid files, then exits. */
  @Override
  public synchronized void close() {
    closed = true;
    LIVE.remove(this);
    try {
      commands.close();
    } catch (IOException e) {
      // it is gone already
    }
  }
}
