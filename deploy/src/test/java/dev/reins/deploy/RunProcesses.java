package dev.reins.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finds the live processes of a run by the {@code REINS_RUN_ID} in their environment (Linux). */
final class RunProcesses {
  private RunProcesses() {}

  static List<Long> pidsOf(String runId) {
    byte[] needle = ("REINS_RUN_ID=" + runId + "\0").getBytes(StandardCharsets.US_ASCII);
    List<Long> pids = new ArrayList<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
      for (Path p : procs) {
        try {
          byte[] env = Files.readAllBytes(p.resolve("environ"));
          if (contains(env, needle)) {
            pids.add(Long.parseLong(p.getFileName().toString()));
          }
        } catch (IOException | SecurityException e) {
          // the process ended while we looked, or is not ours to read
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return pids;
  }

  private static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      if (i > 0 && hay[i - 1] != 0) {
        continue;
      }
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
