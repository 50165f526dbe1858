package dev.reins.runtime.worker;

import com.typesafe.config.Config;
import dev.reins.persistence.JournalDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/** {@code reins.worker}: see reference.conf for the meaning of each key. */
public record WorkerSettings(
    int slots,
    long logCapBytes,
    Duration reportResendInterval,
    Duration reportGiveUpAfter,
    Path dataDir,
    String apiUrl,
    List<String> passEnv) {

  public WorkerSettings {
    passEnv = List.copyOf(passEnv);
  }

  public static WorkerSettings fromConfig(Config config) {
    Config w = config.getConfig("reins.worker");
    int slots = w.getInt("slots");
    if (slots < 1) {
      throw new IllegalArgumentException("reins.worker.slots (REINS_WORKER_SLOTS) must be at least 1, got " + slots);
    }
    return new WorkerSettings(
        slots,
        w.getBytes("log-cap"),
        w.getDuration("report-resend-interval"),
        w.getDuration("report-give-up-after"),
        JournalDatabase.dataDir(config),
        w.getString("api-url"),
        Arrays.stream(w.getString("pass-env").split(",")).map(String::trim).filter(n -> !n.isEmpty()).toList());
  }
}
