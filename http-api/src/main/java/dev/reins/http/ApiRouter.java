package dev.reins.http;

import dev.reins.http.auth.Authenticator;
import dev.reins.http.auth.Caller;
import dev.reins.protocol.auth.Tenants;
import dev.reins.runtime.metrics.ReinsMetrics;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaType;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Serves the endpoint table under {@code /v1}. Every request passes the same gates, in this
 * order, before an endpoint's handler sees it:
 *
 * <ol>
 *   <li>{@code Host} among the allowed hosts, when configured (421; not for public endpoints);
 *   <li>a path of the table (404), answering {@code OPTIONS} (and CORS preflights) from the table;
 *   <li>a method of that path (405 with {@code Allow});
 *   <li>a valid bearer token (401), with the endpoint's scope (403), naming a run the caller may
 *       see (404 otherwise, as for a run that does not exist);
 *   <li>a body that is {@code application/json}, or none (415), whatever the body looks like: a
 *       browser sends {@code text/plain}, form and multipart bodies cross-site without asking.
 * </ol>
 */
final class ApiRouter extends AllDirectives {
  private static final String BEARER = "bearer ";
  private static final String EXPOSED_HEADERS = "Location, ETag, Retry-After, " + RunRoutes.OUTCOME_HEADER;
  private static final String ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, If-None-Match, Last-Event-ID";

  private final List<Endpoint> endpoints;
  private final Authenticator authenticator;
  private final HttpSettings settings;

  private final ReinsMetrics metrics;

  ApiRouter(List<Endpoint> endpoints, Authenticator authenticator, HttpSettings settings, ReinsMetrics metrics) {
    this.endpoints = List.copyOf(endpoints);
    this.authenticator = authenticator;
    this.settings = settings;
    this.metrics = metrics;
  }

  List<Endpoint> endpoints() {
    return endpoints;
  }

  /**
   * The table under {@code /v1}; {@code /metrics}, where Prometheus looks by default, is also
   * served at the root (the same endpoint, through the same gates).
   */
  Route route() {
    return concat(
        pathPrefix("v1", () -> extractRequest(request -> extractUnmatchedPath(rest -> dispatch(request, rest)))),
        path(MetricsRoutes.PATH.substring(1), () -> extractRequest(request -> dispatch(request, MetricsRoutes.PATH))));
  }

  private record Match(Endpoint endpoint, Map<String, String> params) {}

  private Route dispatch(HttpRequest request, String rest) {
    List<String> segments = Endpoint.split(rest);
    List<Match> matches = new ArrayList<>();
    for (Endpoint e : endpoints) {
      e.match(segments).ifPresent(params -> matches.add(new Match(e, params)));
    }
    if (matches.isEmpty()) {
      return reject(); // the rejection handler answers 404
    }
    return counted(request, "/v1" + matches.get(0).endpoint().path(), () -> gates(request, matches));
  }

  /**
   * Counts the answer under the route's template, never the raw path (one series per route, not
   * per run id). Errors and rejections are turned into answers here, inside the count, so that a
   * 400 or a 500 is counted under its route too.
   */
  private Route counted(HttpRequest request, String template, java.util.function.Supplier<Route> inner) {
    if (!metrics.enabled()) {
      return inner.get();
    }
    long started = System.nanoTime();
    String method = request.method().name();
    return mapResponse(response -> {
      metrics.httpRequest(method, template, response.status().intValue(), System.nanoTime() - started);
      return response;
    }, () -> handleExceptions(Problems.exceptionHandler(settings.retryAfter()), () ->
        handleRejections(Problems.rejectionHandler(), inner)));
  }

  private Route gates(HttpRequest request, List<Match> matches) {
    boolean allPublic = matches.stream().allMatch(m -> m.endpoint().access().isPublic());
    if (!allPublic && !hostAllowed(request)) {
      return Problems.complete(Problem.of(421, "host-not-allowed", "Misdirected request",
          "this server does not answer for the host named in the Host header (REINS_ALLOWED_HOSTS)"));
    }
    List<HttpHeader> cors = corsHeaders(request);
    Set<String> methods = new LinkedHashSet<>();
    for (Match m : matches) {
      methods.add(m.endpoint().method());
      if (m.endpoint().method().equals("GET")) {
        methods.add("HEAD");
      }
    }
    methods.add("OPTIONS");
    String allow = String.join(", ", methods);
    String method = request.method().name();
    if (method.equals("OPTIONS")) {
      return options(request, allow, cors);
    }
    Optional<Match> chosen = matches.stream().filter(m -> m.endpoint().method().equals(method)).findFirst();
    if (chosen.isEmpty()) {
      return respondWithHeaders(cors, () -> Problems.complete(Problem.of(405, "method-not-allowed", "Method not allowed",
          "allowed: " + allow), List.of(RawHeader.create("Allow", allow))));
    }
    Match m = chosen.get();
    return respondWithHeaders(cors, () -> authorize(request, m));
  }

  private Route authorize(HttpRequest request, Match m) {
    Access access = m.endpoint().access();
    if (access.isPublic()) {
      return checked(request, m, null);
    }
    Optional<String> token = bearer(request);
    if (token.isEmpty()) {
      return Problems.unauthorized("send Authorization: Bearer <token> (see the README, Security)", false);
    }
    return onComplete(authenticator.authenticate(token.get()), result -> {
      if (result.isFailure()) {
        Throwable e = result.failed().get();
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof Authenticator.TokenStoreUnavailable) {
          return Problems.unavailable(cause.getMessage(), settings.retryAfter());
        }
        throw new CompletionException(cause);
      }
      Optional<Caller> caller = result.get();
      if (caller.isEmpty()) {
        return Problems.unauthorized("the token is unknown, expired or revoked", true);
      }
      if (caller.get() instanceof Caller.ApiCaller api) {
        if (!api.has(access.scope())) {
          return Problems.complete(Problem.of(403, "forbidden", "Forbidden",
              "the token lacks the scope " + access.scope().json()));
        }
        if (access.operatorsOnly() && !api.tenant().equals(Tenants.DEFAULT)) {
          return Problems.complete(Problem.of(403, "forbidden", "Forbidden",
              "only a token of the default tenant (an operator's) may do this: it concerns every tenant"));
        }
      } else if (caller.get() instanceof Caller.RunCaller) {
        if (!access.ownRun()) {
          return Problems.complete(Problem.of(403, "forbidden", "Forbidden",
              "a per-run token may only read its own run (and manage its delegations)"));
        }
        // its own run or one of its child runs: the handler asks through Runs, which decides
        // (another run answers 404, as for a run that does not exist)
      }
      return checked(request, m, caller.get());
    });
  }

  /** The body gate, then the handler. */
  private Route checked(HttpRequest request, Match m, Caller caller) {
    if (!jsonOrNoBody(request.entity())) {
      return Problems.complete(Problem.of(415, "unsupported-media-type", "Unsupported media type",
          "a request body must be application/json (got " + request.entity().getContentType() + ")"));
    }
    return m.endpoint().handler().apply(new Endpoint.Call(caller, m.params(), request, settings.publicUrl()));
  }

  static boolean jsonOrNoBody(HttpEntity entity) {
    MediaType type = entity.getContentType().mediaType();
    if (isJson(type)) {
      return true;
    }
    // no body and no Content-Type: Pekko models that as an empty entity of no (or octet-stream) type
    return entity.isKnownEmpty()
        && (entity.getContentType().equals(ContentTypes.NO_CONTENT_TYPE)
            || entity.getContentType().equals(ContentTypes.APPLICATION_OCTET_STREAM));
  }

  private static boolean isJson(MediaType type) {
    return type.equals(MediaTypes.APPLICATION_JSON)
        || (type.mainType().equals("application") && type.subType().endsWith("+json"));
  }

  static Optional<String> bearer(HttpRequest request) {
    return request.getHeader("Authorization")
        .map(HttpHeader::value)
        .filter(v -> v.length() > BEARER.length() && v.substring(0, BEARER.length()).toLowerCase(Locale.ROOT).equals(BEARER))
        .map(v -> v.substring(BEARER.length()).trim());
  }

  private boolean hostAllowed(HttpRequest request) {
    if (settings.allowedHosts().isEmpty()) {
      return true;
    }
    String host = request.getUri().host().address();
    if (host.isEmpty()) {
      host = request.getHeader("Host").map(HttpHeader::value).orElse("");
    }
    String name = host.toLowerCase(Locale.ROOT);
    return settings.allowedHosts().contains(name);
  }

  // ---- OPTIONS and CORS ------------------------------------------------------------------------

  private Route options(HttpRequest request, String allow, List<HttpHeader> cors) {
    List<HttpHeader> headers = new ArrayList<>(cors);
    headers.add(RawHeader.create("Allow", allow));
    if (!cors.isEmpty() && request.getHeader("Access-Control-Request-Method").isPresent()) {
      headers.add(RawHeader.create("Access-Control-Allow-Methods", allow));
      headers.add(RawHeader.create("Access-Control-Allow-Headers", ALLOWED_REQUEST_HEADERS));
      headers.add(RawHeader.create("Access-Control-Max-Age", "600"));
    }
    return complete(HttpResponse.create().withStatus(StatusCodes.NO_CONTENT).addHeaders(headers));
  }

  /**
   * The CORS headers for this request's {@code Origin}: none unless origins are configured and
   * this one is among them. Tokens travel in the Authorization header, never in cookies, so
   * credentials are never allowed.
   */
  private List<HttpHeader> corsHeaders(HttpRequest request) {
    if (settings.corsOrigins().isEmpty()) {
      return List.of();
    }
    Optional<String> origin = request.getHeader("Origin").map(HttpHeader::value);
    if (origin.isEmpty() || !(settings.corsOrigins().contains("*") || settings.corsOrigins().contains(origin.get()))) {
      return List.of();
    }
    return List.of(
        RawHeader.create("Access-Control-Allow-Origin", origin.get()),
        RawHeader.create("Access-Control-Expose-Headers", EXPOSED_HEADERS),
        RawHeader.create("Vary", "Origin"));
  }
}
