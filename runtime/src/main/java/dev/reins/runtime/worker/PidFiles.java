package dev.reins.runtime.worker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pids of the processes this node started, one file per attempt under {@code
 * <data-dir>/workers/}, each with the process's start time. After a crash the next start of the
 * node kills what is left of those processes; the start time guards against killing an unrelated
 * process that was given a reused pid.
 */
public final class PidFiles {
  private static final Logger log = LoggerFactory.getLogger(PidFiles.class);

  private final Path dir;

  public PidFiles(Path dataDir) {
    this.dir = directory(dataDir);
  }

  static Path directory(Path dataDir) {
    return dataDir.resolve("workers");
  }

  public void record(String runId, int attempt, ProcessHandle process) throws IOException {
    Files.createDirectories(dir);
    long started = startTime(process);
    Path tmp = dir.resolve(name(runId, attempt) + ".tmp");
    Files.writeString(tmp, process.pid() + " " + started + "\n", StandardCharsets.US_ASCII);
    Files.move(tmp, dir.resolve(name(runId, attempt)), StandardCopyOption.ATOMIC_MOVE);
  }

  public void remove(String runId, int attempt) {
    try {
      Files.deleteIfExists(dir.resolve(name(runId, attempt)));
    } catch (IOException e) {
      log.warn("could not remove pid file of run {} attempt {}: {}", runId, attempt, e.toString());
    }
  }

  /** An attempt that was running on an earlier life of this node; {@code killedPid} if its processes were still there. */
  public record Orphan(String runId, int attempt, Long killedPid) {}

  /**
   * Kills the process groups recorded by an earlier life of this node (they are orphans: no worker
   * owns them any more) and forgets them. Returns the pids that were killed.
   */
  public List<Long> reapOrphans() {
    return reap().stream().map(Orphan::killedPid).filter(p -> p != null).toList();
  }

  /** As {@link #reapOrphans}, naming every attempt an earlier life of this node was running. */
  public List<Orphan> reap() {
    List<Orphan> found = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return found;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.pid")) {
      for (Path file : files) {
        Long killed = reap(file).orElse(null);
        String[] name = file.getFileName().toString().split("\\.");
        try {
          found.add(new Orphan(name[0], Integer.parseInt(name[1]), killed));
        } catch (RuntimeException e) {
          log.warn("ignoring pid file with an unexpected name {}", file);
        }
        Files.deleteIfExists(file);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read pid files in " + dir, e);
    }
    return found;
  }

  private Optional<Long> reap(Path file) throws IOException {
    String[] parts = Files.readString(file, StandardCharsets.US_ASCII).trim().split(" ");
    long pid;
    long started;
    try {
      pid = Long.parseLong(parts[0]);
      started = Long.parseLong(parts[1]);
    } catch (RuntimeException e) {
      log.warn("ignoring unreadable pid file {}", file);
      return Optional.empty();
    }
    Optional<ProcessHandle> leader = ProcessHandle.of(pid);
    if (leader.isPresent()) {
      long actual = startTime(leader.get());
      if (actual != started) {
        log.info("pid {} was reused by an unrelated process; not touching it", pid);
        return Optional.empty();
      }
      ProcessTree.signal(leader.get(), ProcessTree.Signal.KILL);
    } else if (ProcessTree.groupAlive(pid)) {
      // the leader is gone but members of its group live on; the group id cannot have been reused
      ProcessTree.signalGroup(pid, ProcessTree.Signal.KILL);
    } else {
      return Optional.empty();
    }
    log.warn("killed orphaned process group {} left by a previous run of this node ({})", pid, file.getFileName());
    return Optional.of(pid);
  }

  /**
   * The process's start time as the kernel records it: clock ticks since boot, field 22 of
   * {@code /proc/<pid>/stat}. Unlike a wall-clock instant derived from it, it does not move when
   * the boot time estimate drifts between two starts of the node. Elsewhere: the JVM's instant.
   */
  static long startTime(ProcessHandle process) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"), StandardCharsets.US_ASCII);
      // the command name (field 2) may contain spaces and parentheses: count from the last ')'
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[22 - 3]);
    } catch (IOException | RuntimeException e) {
      return process.info().startInstant().map(Instant::toEpochMilli).orElse(-1L);
    }
  }

  private static String name(String runId, int attempt) {
    return runId + "." + attempt + ".pid";
  }
}
