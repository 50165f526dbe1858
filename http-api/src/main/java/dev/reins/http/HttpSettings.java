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
    Duration signingKeyRefresh,
    String publicUrl) {

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
        a.getDuration("signing-key-refresh"),
        publicUrl(h.getString("public-url")));
  }

  private static String publicUrl(String value) {
    String url = value.trim();
    if (!url.isEmpty()) {
      java.net.URI parsed;
      try {
        parsed = new java.net.URI(url);
      } catch (java.net.URISyntaxException e) {
        throw new IllegalArgumentException("REINS_PUBLIC_URL (reins.http.public-url) is not a URL: " + e.getMessage());
      }
      if (!("http".equals(parsed.getScheme()) || "https".equals(parsed.getScheme())) || parsed.getHost() == null
          || parsed.getQuery() != null || parsed.getFragment() != null) {
        throw new IllegalArgumentException(
            "REINS_PUBLIC_URL (reins.http.public-url) must be an http(s) URL like https://reins.example.com, got " + url);
      }
    }
    return url;
  }

  /** A comma-separated list (how environment variables carry lists). */
  static List<String> list(String value) {
    return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }
}
