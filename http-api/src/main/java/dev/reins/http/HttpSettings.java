package dev.reins.http;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** {@code reins.http} and {@code reins.auth}: see reference.conf for the meaning of each key. */
public record HttpSettings(
    String host,
    int port,
    long maxBody,
    Duration askTimeout,
    List<String> corsOrigins,
    List<String> allowedHosts,
    Duration retryAfter,
    String adminToken,
    Duration tokenCacheTtl,
    int tokenCacheMax,
    Duration signingKeyRefresh) {

  public HttpSettings {
    corsOrigins = List.copyOf(corsOrigins);
    allowedHosts = List.copyOf(allowedHosts);
  }

  public static HttpSettings fromConfig(Config config) {
    Config h = config.getConfig("reins.http");
    Config a = config.getConfig("reins.auth");
    String adminToken = a.getString("admin-token");
    if (!adminToken.isEmpty() && adminToken.length() < 32) {
      throw new IllegalArgumentException(
          "REINS_ADMIN_TOKEN (reins.auth.admin-token) must be at least 32 characters of random text (e.g. `openssl rand -hex 32`)");
    }
    return new HttpSettings(
        h.getString("host"),
        h.getInt("port"),
        h.getBytes("max-body"),
        h.getDuration("ask-timeout"),
        list(h.getString("cors-origins")),
        list(h.getString("allowed-hosts")).stream().map(s -> s.toLowerCase(Locale.ROOT)).toList(),
        h.getDuration("unavailable-retry-after"),
        adminToken,
        a.getDuration("token-cache-ttl"),
        a.getInt("token-cache-max"),
        a.getDuration("signing-key-refresh"));
  }

  /** A comma-separated list (how environment variables carry lists). */
  static List<String> list(String value) {
    return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }
}
