package dev.reins.runtime.tenant;

import com.typesafe.config.Config;
import java.time.Duration;

/** {@code reins.limits.tenant}: see reference.conf for the meaning of each key. */
public record QuotaSettings(
    int maxActiveRuns,
    double submitsPerSecond,
    int submitBurst,
    Duration activeRetryAfter,
    Duration leaseRefresh,
    Duration leaseTtl,
    Duration askTimeout) {

  public static QuotaSettings fromConfig(Config config) {
    Config t = config.getConfig("reins.limits.tenant");
    Duration refresh = t.getDuration("lease-refresh");
    double rate = t.getDouble("submits-per-second");
    int burst = t.getInt("submit-burst");
    if (rate < 0 || burst < 1) {
      throw new IllegalArgumentException("reins.limits.tenant: submits-per-second must be >= 0 (0: no limit) and submit-burst >= 1");
    }
    return new QuotaSettings(
        t.getInt("max-active-runs"),
        rate,
        burst,
        t.getDuration("active-retry-after"),
        refresh,
        refresh.multipliedBy(3),
        t.getDuration("ask-timeout"));
  }
}
