package dev.reins.runtime.delegation;

import com.typesafe.config.Config;
import java.time.Duration;

/** {@code reins.delegations}: see reference.conf for the meaning of each key. */
public record DelegationSettings(
    Duration defaultTimeout,
    long resultCap,
    Duration cancelWait,
    Duration parentResend,
    Duration passivateAfter,
    int perRun,
    Duration childRunWatch) {

  /** What reference.conf says, for tests that build settings by hand. */
  public static final DelegationSettings DEFAULTS =
      new DelegationSettings(Duration.ofMinutes(30), 1024 * 1024, Duration.ofSeconds(5), Duration.ofSeconds(2), Duration.ofSeconds(30), 100,
          Duration.ofSeconds(30));

  public static DelegationSettings fromConfig(Config config) {
    Config d = config.getConfig("reins.delegations");
    return new DelegationSettings(
        d.getDuration("defaults.timeout"),
        d.getBytes("result-cap"),
        d.getDuration("cancel-wait"),
        d.getDuration("parent-resend-interval"),
        d.getDuration("passivate-after"),
        config.getInt("reins.limits.delegations-per-run"),
        d.getDuration("child-run-watch"));
  }
}
