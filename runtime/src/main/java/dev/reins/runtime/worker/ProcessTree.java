package dev.reins.runtime.worker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Signals a process and everything it started. Each attempt's process is launched through
 * {@code setsid}, so it leads a process group of its own (its pid is the group id) and is not in
 * the server's group. Stopping signals both the descendants Java can see (walking /proc) and the
 * whole group, so a child that re-parented itself to init still gets the signal.
 */
public final class ProcessTree {
  private static final Path SETSID = Path.of("/usr/bin/setsid");
  private static final Path KILL = findKill();
  private static final Map<Integer, String> SIGNAL_NAMES =
      Map.of(1, "HUP", 2, "INT", 3, "QUIT", 6, "ABRT", 9, "KILL", 13, "PIPE", 14, "ALRM", 15, "TERM");

  public enum Signal {
    TERM,
    KILL
  }

  private ProcessTree() {}

  /** The argv to launch: the run's own argv, as its own process group leader when possible. */
  public static List<String> launchArgv(List<String> argv) {
    return launchArgv(argv, Optional.empty());
  }

  /** {@code argv} run through {@code setsid}: a session and process group of its own. */
  static List<String> inOwnSession(List<String> argv) {
    return launchArgv(argv, Optional.empty());
  }

  /**
   * As {@link #launchArgv(List)}, and as {@code runAs} when given. setsid comes first: it gives
   * the new session to the process it execs, setpriv then switches the user and execs the job,
   * all in one pid.
   */
  public static List<String> launchArgv(List<String> argv, Optional<RunAs> runAs) {
    List<String> out = new ArrayList<>();
    if (Files.isExecutable(SETSID)) {
      out.add(SETSID.toString());
    }
    runAs.ifPresent(r -> out.addAll(r.launchPrefix()));
    out.addAll(argv);
    return out;
  }

  /**
   * Sends {@code signal} to the root, its live descendants and its process group. The descendants
   * are listed before the root is signalled: once the root dies they re-parent and are no longer
   * its descendants.
   */
  public static void signal(ProcessHandle root, Signal signal) {
    List<ProcessHandle> descendants = root.descendants().toList();
    send(root, signal);
    for (ProcessHandle p : descendants) {
      send(p, signal);
    }
    signalGroup(root.pid(), signal);
  }

  /**
   * Signals the process group {@code pgid}. Safe while its leader or any member is alive, because
   * Linux does not reuse a pid that still names a process group.
   */
  public static void signalGroup(long pgid, Signal signal) {
    if (ProcessWatchdog.signalGroup(pgid, signal) || KILL == null) {
      return; // sent through this node's watchdog: no process spawned per signal
    }
    try {
      Process p =
          new ProcessBuilder(KILL.toString(), "-s", signal.name(), "--", "-" + pgid)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      p.waitFor(2, TimeUnit.SECONDS);
    } catch (IOException e) {
      // nothing left to signal is the common case; the per-process signals above still went out
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Whether the group still has members (kill with signal 0 succeeds). */
  public static boolean groupAlive(long pgid) {
    if (KILL == null) {
      return false;
    }
    try {
      Process p =
          new ProcessBuilder(KILL.toString(), "-s", "0", "--", "-" + pgid)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return p.waitFor(2, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Java reports a process killed by signal n as exit value 128+n. */
  public static String signalOf(int exitValue) {
    if (exitValue > 128 && exitValue < 128 + 65) {
      return SIGNAL_NAMES.getOrDefault(exitValue - 128, "SIG" + (exitValue - 128));
    }
    return null;
  }

  private static void send(ProcessHandle p, Signal signal) {
    if (signal == Signal.TERM) {
      p.destroy();
    } else {
      p.destroyForcibly();
    }
  }

  private static Path findKill() {
    for (String candidate : List.of("/usr/bin/kill", "/bin/kill")) {
      Path p = Path.of(candidate);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }
}
