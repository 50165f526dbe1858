package dev.reins.runtime.worker;

import com.typesafe.config.Config;
import dev.reins.persistence.JournalDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** {@code reins.worker}: see reference.conf for the meaning of each key. */
public record WorkerSettings(
    int slots,
    long logCapBytes,
    Duration reportResendInterval,
    Duration reportGiveUpAfter,
    Path dataDir,
    String apiUrl,
    List<String> passEnv,
    Optional<RunAs> runAs,
    Duration claimGiveUpAfter,
    Duration offerTimeout,
    Duration capacityInterval) {

  public WorkerSettings {
    passEnv = List.copyOf(passEnv);
  }

  /** Jobs run as the server's own user; placement timings at their defaults (tests). */
  public WorkerSettings(
      int slots, long logCapBytes, Duration reportResendInterval, Duration reportGiveUpAfter, Path dataDir, String apiUrl,
      List<String> passEnv) {
    this(slots, logCapBytes, reportResendInterval, reportGiveUpAfter, dataDir, apiUrl, passEnv, Optional.empty());
  }

  /** Placement timings at their defaults (tests). */
  public WorkerSettings(
      int slots, long logCapBytes, Duration reportResendInterval, Duration reportGiveUpAfter, Path dataDir, String apiUrl,
      List<String> passEnv, Optional<RunAs> runAs) {
    this(slots, logCapBytes, reportResendInterval, reportGiveUpAfter, dataDir, apiUrl, passEnv, runAs,
        Duration.ofSeconds(30), Duration.ofSeconds(5), Duration.ofSeconds(1));
  }

  /** Jobs run as the server's own user (tests). */
  public WorkerSettings(
      int slots, long logCapBytes, Duration reportResendInterval, Duration reportGiveUpAfter, Path dataDir, String apiUrl,
      List<String> passEnv, Duration claimGiveUpAfter, Duration offerTimeout, Duration capacityInterval) {
    this(slots, logCapBytes, reportResendInterval, reportGiveUpAfter, dataDir, apiUrl, passEnv, Optional.empty(),
        claimGiveUpAfter, offerTimeout, capacityInterval);
  }

  /** Fails, with a message for the operator, on a setting the server cannot run with. */
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
        Arrays.stream(w.getString("pass-env").split(",")).map(String::trim).filter(n -> !n.isEmpty()).toList(),
        RunAs.fromSetting(w.getString("run-as")),
        w.getDuration("claim-give-up-after"),
        w.getDuration("placement.offer-timeout"),
        w.getDuration("placement.capacity-interval"));
  }
}
