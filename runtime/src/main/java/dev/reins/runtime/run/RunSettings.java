package dev.reins.runtime.run;

import com.typesafe.config.Config;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.runtime.delegation.DelegationSettings;
import java.time.Duration;

/**
 * {@code reins.runs}: see reference.conf for the meaning of each key.
 *
 * @param longestTimer the longest single timer a run sets (not configuration: {@link
 *     #LONGEST_TIMER} outside tests, which shorten it to watch a far deadline approached in steps)
 */
public record RunSettings(
    SubmitRunRequest.Defaults defaults,
    Duration passivateAfter,
    Duration stopResendInterval,
    int snapshotEvery,
    Duration leaseRefresh,
    Duration pendingRecheck,
    Duration lostWorkerDelay,
    Duration longestTimer,
    DelegationSettings delegations) {

  /** Without delegation settings from configuration (tests): the defaults. */
  public RunSettings(
      SubmitRunRequest.Defaults defaults, Duration passivateAfter, Duration stopResendInterval, int snapshotEvery,
      Duration leaseRefresh, Duration pendingRecheck, Duration lostWorkerDelay, Duration longestTimer) {
    this(defaults, passivateAfter, stopResendInterval, snapshotEvery, leaseRefresh, pendingRecheck, lostWorkerDelay, longestTimer,
        DelegationSettings.DEFAULTS);
  }

  /**
   * Pekko's scheduler refuses a delay beyond its tick times Int.MaxValue (about 248 days at the
   * default 10 ms), and a timer that fails to start fails the entity, on every recovery too;
   * {@code timeoutSeconds} may be up to a year, so a run reaches a far deadline in steps of this.
   */
  public static final Duration LONGEST_TIMER = Duration.ofDays(1);

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
        config.getDuration("reins.limits.tenant.lease-refresh"),
        r.getDuration("pending-recheck"),
        r.getDuration("lost-worker-delay"),
        LONGEST_TIMER,
        DelegationSettings.fromConfig(config));
  }
}
