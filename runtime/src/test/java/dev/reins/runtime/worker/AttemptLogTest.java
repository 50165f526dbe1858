package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** An attempt's output on disk: capped, newest bytes kept. */
class AttemptLogTest {

  @TempDir Path dataDir;

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 8192})
  void moreOutputThanTheCapKeepsAtMostTheCapAndTheNewestBytes(int readSize) throws IOException {
    int cap = 100;
    byte[] output = numberedLines(1037);

    long copied = new AttemptLog(dataDir, "run-1", 1, cap).pump(trickle(output, readSize));

    assertEquals(output.length, copied);
    assertTrue(bytesOnDisk("run-1") <= cap, "kept " + bytesOnDisk("run-1") + " bytes");
    byte[] kept = AttemptLog.tail(dataDir, "run-1", 1, 65536).orElseThrow();
    assertTrue(kept.length <= cap, "tail of " + kept.length + " bytes");
    assertTrue(kept.length >= cap / 2, "only " + kept.length + " bytes kept of a cap of " + cap);
    assertArrayEquals(Arrays.copyOfRange(output, output.length - kept.length, output.length), kept);
  }

  @Test
  void outputWithinTheCapIsKeptWhole() throws IOException {
    byte[] output = "hello\nerr\n".getBytes(StandardCharsets.UTF_8);

    new AttemptLog(dataDir, "run-2", 3, 1024).pump(new ByteArrayInputStream(output));

    assertArrayEquals(output, AttemptLog.tail(dataDir, "run-2", 3, 65536).orElseThrow());
  }

  @Test
  void aTailSmallerThanTheLogIsItsEnd() throws IOException {
    byte[] output = numberedLines(300);
    new AttemptLog(dataDir, "run-3", 1, 100).pump(new ByteArrayInputStream(output));

    byte[] tail = AttemptLog.tail(dataDir, "run-3", 1, 10).orElseThrow();

    assertArrayEquals(Arrays.copyOfRange(output, output.length - 10, output.length), tail);
  }

  @Test
  void anAttemptWithoutOutputHasNoLog() throws IOException {
    assertEquals(Optional.empty(), AttemptLog.tail(dataDir, "never-ran", 1, 65536));
  }

  /** Distinct content everywhere, so that a wrong slice cannot compare equal by accident. */
  private static byte[] numberedLines(int length) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; sb.length() < length; i++) {
      sb.append("line ").append(i).append('\n');
    }
    return sb.substring(0, length).getBytes(StandardCharsets.US_ASCII);
  }

  /** A stream that hands out at most {@code readSize} bytes per read, like a pipe. */
  private static InputStream trickle(byte[] bytes, int readSize) {
    return new ByteArrayInputStream(bytes) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, readSize));
      }
    };
  }

  private long bytesOnDisk(String runId) throws IOException {
    try (Stream<Path> files = Files.list(dataDir.resolve("logs").resolve(runId))) {
      return files.mapToLong(p -> p.toFile().length()).sum();
    }
  }
}
