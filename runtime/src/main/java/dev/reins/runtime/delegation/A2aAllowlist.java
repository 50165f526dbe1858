package dev.reins.runtime.delegation;

import java.net.URI;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Which agents a delegation may call ({@code reins.delegations.a2a.allowed-urls}). An entry is a
 * URL prefix matched part by part, never as a string: {@code http://127.0.0.1} allows any port and
 * path on that host but not {@code http://127.0.0.1.example.com}; {@code https://agents.example.com:8443/a2a}
 * allows that port and the paths below {@code /a2a} only.
 */
public final class A2aAllowlist {
  private record Entry(String scheme, String host, int port, String path) {}

  private final List<Entry> entries;

  public A2aAllowlist(String commaSeparated) {
    this.entries = Arrays.stream(commaSeparated.split(","))
        .map(String::trim)
        .filter(e -> !e.isEmpty())
        .map(A2aAllowlist::entry)
        .toList();
  }

  private static Entry entry(String prefix) {
    URI u = URI.create(prefix);
    if (u.getScheme() == null || u.getHost() == null) {
      throw new IllegalArgumentException("reins.delegations.a2a.allowed-urls: '" + prefix + "' is not a URL prefix like https://host[:port][/path]");
    }
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    return new Entry(u.getScheme().toLowerCase(Locale.ROOT), host(u), u.getPort(), path.endsWith("/") ? path : path + "/");
  }

  public boolean allows(String url) {
    URI u;
    try {
      u = new URI(url);
    } catch (Exception e) {
      return false;
    }
    if (u.getScheme() == null || u.getHost() == null || u.getRawUserInfo() != null) {
      return false;
    }
    String scheme = u.getScheme().toLowerCase(Locale.ROOT);
    String host = host(u);
    int port = u.getPort() == -1 ? defaultPort(scheme) : u.getPort();
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    if (!path.endsWith("/")) {
      path = path + "/";
    }
    if (path.contains("/../") || path.contains("/./")) {
      return false;
    }
    for (Entry e : entries) {
      boolean portOk = e.port() == -1 || e.port() == port;
      if (e.scheme().equals(scheme) && e.host().equals(host) && portOk && path.startsWith(e.path())) {
        return true;
      }
    }
    return false;
  }

  private static String host(URI u) {
    String h = u.getHost().toLowerCase(Locale.ROOT);
    return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
  }

  private static int defaultPort(String scheme) {
    return scheme.equals("https") ? 443 : 80;
  }
}
