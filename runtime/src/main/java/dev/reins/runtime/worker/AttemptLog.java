package dev.reins.runtime.worker;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The output of one attempt, kept under {@code <data-dir>/logs/<runId>/<attempt>.log} and capped:
 * when the live file reaches half the cap it becomes {@code .log.1} (replacing the older half),
 * so at most {@code cap} bytes are kept and the oldest output is dropped first.
 */
public final class AttemptLog {
  private final Path live;
  private final Path previous;
  private final long half;

  public AttemptLog(Path dataDir, String runId, int attempt, long capBytes) {
    Path dir = dataDir.resolve("logs").resolve(runId);
    this.live = dir.resolve(attempt + ".log");
    this.previous = dir.resolve(attempt + ".log.1");
    this.half = Math.max(1, capBytes / 2);
  }

  /** Copies {@code in} into the log until end of stream; returns the bytes copied. */
  public long pump(InputStream in) throws IOException {
    Files.createDirectories(live.getParent());
    byte[] buf = new byte[8192];
    long total = 0;
    OutputStream out = openFresh();
    long size = 0;
    try {
      int n;
      while ((n = in.read(buf)) > 0) {
        int off = 0;
        while (off < n) {
          int chunk = (int) Math.min(n - off, half - size);
          out.write(buf, off, chunk);
          size += chunk;
          off += chunk;
          if (size >= half) {
            out.close();
            Files.move(live, previous, StandardCopyOption.REPLACE_EXISTING);
            out = openFresh();
            size = 0;
          }
        }
        out.flush();
        total += n;
      }
    } finally {
      out.close();
    }
    return total;
  }

  private OutputStream openFresh() throws IOException {
    return Files.newOutputStream(live, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
  }

  /** The last {@code tailBytes} of the attempt's output, or empty if the attempt has no log. */
  public static Optional<byte[]> tail(Path dataDir, String runId, int attempt, int tailBytes) throws IOException {
    Path dir = dataDir.resolve("logs").resolve(runId);
    byte[] older = readOrEmpty(dir.resolve(attempt + ".log.1"));
    byte[] newer;
    try {
      newer = Files.readAllBytes(dir.resolve(attempt + ".log"));
    } catch (NoSuchFileException e) {
      if (older.length == 0) {
        return Optional.empty();
      }
      newer = new byte[0];
    }
    int total = older.length + newer.length;
    int take = Math.min(Math.max(0, tailBytes), total);
    byte[] out = new byte[take];
    int fromNewer = Math.min(take, newer.length);
    int fromOlder = take - fromNewer;
    System.arraycopy(older, older.length - fromOlder, out, 0, fromOlder);
    System.arraycopy(newer, newer.length - fromNewer, out, fromOlder, fromNewer);
    return Optional.of(out);
  }

  private static byte[] readOrEmpty(Path p) throws IOException {
    try (InputStream in = Files.newInputStream(p)) {
      return in.readAllBytes();
    } catch (NoSuchFileException e) {
      return new byte[0];
    }
  }
}
