package dev.reins.http;

import dev.reins.http.auth.Caller;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * One route of the API: method, path under {@code /v1} (segments in braces are parameters), who
 * may call it, and what answers. The list of endpoints is the API: the router, the answers to
 * {@code OPTIONS} and 405, and the authorization tests are all built from it, so a route cannot
 * exist without its access rule or escape the tests.
 */
public record Endpoint(String method, String path, Access access, Function<Call, Route> handler) {

  /**
   * An authorized request to an endpoint: the caller ({@code null} on public ones), the path
   * parameters, and the server's public URL ({@code reins.http.public-url}, empty: none configured).
   */
  public record Call(Caller caller, Map<String, String> params, HttpRequest request, String publicUrl) {
    public String param(String name) {
      return params.get(name);
    }

    /**
     * An absolute {@code Location} for {@code path} (RFC 9110 allows relative ones, but clients
     * behind proxies and the issue want absolute): under the configured public URL, else under the
     * scheme and authority the request was sent to (its {@code Host} header).
     */
    public Location location(String path) {
      if (!publicUrl.isEmpty()) {
        String base = publicUrl.endsWith("/") ? publicUrl.substring(0, publicUrl.length() - 1) : publicUrl;
        return Location.create(base + path);
      }
      Uri uri = request.getUri();
      return Location.create(Uri.create(path).scheme(uri.scheme()).host(uri.host()).port(uri.port()));
    }

    public String tenant() {
      return caller.tenant();
    }
  }

  public static Endpoint get(String path, Access access, Function<Call, Route> handler) {
    return new Endpoint("GET", path, access, handler);
  }

  public static Endpoint post(String path, Access access, Function<Call, Route> handler) {
    return new Endpoint("POST", path, access, handler);
  }

  public static Endpoint delete(String path, Access access, Function<Call, Route> handler) {
    return new Endpoint("DELETE", path, access, handler);
  }

  public List<String> segments() {
    return split(path);
  }

  /** The path parameters when {@code segments} (already split) is this endpoint's path. */
  Optional<Map<String, String>> match(List<String> segments) {
    List<String> template = segments();
    if (template.size() != segments.size()) {
      return Optional.empty();
    }
    Map<String, String> params = new HashMap<>();
    for (int i = 0; i < template.size(); i++) {
      String t = template.get(i);
      String s = segments.get(i);
      if (t.startsWith("{") && t.endsWith("}")) {
        if (s.isEmpty()) {
          return Optional.empty();
        }
        params.put(t.substring(1, t.length() - 1), s);
      } else if (!t.equals(s)) {
        return Optional.empty();
      }
    }
    return Optional.of(Map.copyOf(params));
  }

  /** {@code /runs/x/} and {@code /runs/x} are one path; empty segments inside are kept (and match nothing). */
  static List<String> split(String path) {
    String p = path.startsWith("/") ? path.substring(1) : path;
    if (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p.isEmpty() ? List.of() : List.of(p.split("/", -1));
  }
}
