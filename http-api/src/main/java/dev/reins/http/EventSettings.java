package dev.reins.http;

import com.typesafe.config.Config;
import java.time.Duration;

/** {@code reins.events}: see reference.conf for the meaning of each key. */
public record EventSettings(int feedScanPerSlice, Duration keepAlive, int buffer, Duration slowClientTimeout) {

  public static EventSettings fromConfig(Config config) {
    Config e = config.getConfig("reins.events");
    EventSettings s = new EventSettings(
        e.getInt("feed-scan-per-slice"),
        e.getDuration("stream.keep-alive"),
        e.getInt("stream.buffer"),
        e.getDuration("stream.slow-client-timeout"));
    if (s.feedScanPerSlice < 1 || s.buffer < 1 || s.keepAlive.isNegative() || s.keepAlive.isZero()
        || s.slowClientTimeout.isNegative() || s.slowClientTimeout.isZero()) {
      throw new IllegalArgumentException("reins.events: feed-scan-per-slice and stream.buffer must be at least 1, "
          + "stream.keep-alive (REINS_SSE_KEEP_ALIVE) and stream.slow-client-timeout (REINS_SSE_SLOW_CLIENT_TIMEOUT) positive");
    }
    return s;
  }
}
