package dev.reins.runtime.worker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a test can see of a run's processes from outside: every process a worker starts carries
 * {@code REINS_RUN_ID} in its environment, and so does everything it forks, whatever process group
 * or parent it ends up with. Linux only (reads {@code /proc}).
 *
 * <p>A zombie (dead, not yet reaped by its parent or by init) counts as gone: it runs nothing and
 * holds nothing but its pid.
 */
public final class RunProcesses {
  private static final Path PROC = Path.of("/proc");

  private RunProcesses() {}

  /** The pids of the live processes whose environment has {@code REINS_RUN_ID=<runId>}. */
  public static Set<Long> pidsOf(String runId) {
    byte[] wanted = ("REINS_RUN_ID=" + runId).getBytes(StandardCharsets.UTF_8);
    Set<Long> pids = new TreeSet<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(PROC, p -> isNumeric(p.getFileName().toString()))) {
      for (Path dir : entries) {
        long pid = Long.parseLong(dir.getFileName().toString());
        byte[] environ;
        try {
          environ = Files.readAllBytes(dir.resolve("environ"));
        } catch (IOException e) {
          continue; // gone meanwhile, a zombie, or not ours to read
        }
        if (hasEntry(environ, wanted) && isAlive(pid)) {
          pids.add(pid);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot list " + PROC, e);
    }
    return pids;
  }

  /** Whether {@code pid} names a process that is neither gone nor a zombie. */
  public static boolean isAlive(long pid) {
    String stat;
    try {
      stat = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      return false;
    }
    // "pid (comm) S ...": comm may contain spaces and parentheses, the state follows the last ')'
    int close = stat.lastIndexOf(')');
    if (close < 0 || close + 2 >= stat.length()) {
      return false;
    }
    char state = stat.charAt(close + 2);
    return state != 'Z' && state != 'X' && state != 'x';
  }

  /** Kills every live process of the run; for cleaning up after a test that failed half way. */
  public static void killAll(String runId) {
    for (long pid : pidsOf(runId)) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  private static boolean hasEntry(byte[] environ, byte[] entry) {
    int start = 0;
    for (int i = 0; i <= environ.length; i++) {
      if (i == environ.length || environ[i] == 0) {
        if (i - start == entry.length && regionEquals(environ, start, entry)) {
          return true;
        }
        start = i + 1;
      }
    }
    return false;
  }

  private static boolean regionEquals(byte[] a, int from, byte[] b) {
    for (int i = 0; i < b.length; i++) {
      if (a[from + i] != b[i]) {
        return false;
      }
    }
    return true;
  }

  private static boolean isNumeric(String name) {
    if (name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      if (!Character.isDigit(name.charAt(i))) {
        return false;
      }
    }
    return true;
  }
}
