package dev.reins.runtime.run;

import com.typesafe.config.Config;
import dev.reins.protocol.api.SubmitRunRequest;
import java.time.Duration;

/** {@code reins.runs}: see reference.conf for the meaning of each key. */
public record RunSettings(
    SubmitRunRequest.Defaults defaults,
    Duration passivateAfter,
    Duration stopResendInterval,
    int snapshotEvery,
    Duration leaseRefresh) {

  public static RunSettings fromConfig(Config config) {
    Config r = config.getConfig("reins.runs");
    return new RunSettings(
        new SubmitRunRequest.Defaults(
            r.getDuration("defaults.timeout").toSeconds(),
            r.getDuration("defaults.cancel-grace").toSeconds(),
            r.getInt("defaults.retry.max-attempts"),
            r.getDuration("defaults.retry.backoff").toSeconds()),
        r.getDuration("passivate-after"),
        r.getDuration("stop-resend-interval"),
        r.getInt("snapshot-every"),
        config.getDuration("reins.limits.tenant.lease-refresh"));
  }
}
