package dev.reins.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.reins.protocol.api.CancelRequest;
import dev.reins.protocol.api.ClusterView;
import dev.reins.protocol.api.CreateDelegationRequest;
import dev.reins.protocol.api.DelegationView;
import dev.reins.protocol.api.ResetRequest;
import dev.reins.protocol.api.RunPage;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A client of the Reins HTTP API ({@code /v1}) on {@code java.net.http}, with the server's own JSON
 * types from {@code reins-protocol}. Thread-safe; one instance per server and token.
 *
 * <p>Errors: the server's refusals are {@link ReinsApiException}s carrying its RFC 9457 problem;
 * no answer at all is a {@link ReinsException}.
 *
 * <p>Retries, only where repeating cannot do a thing twice: reads (GET), a submit or delegation
 * carrying an idempotency key and a cancel (the server answers a repeat with the same run) are
 * repeated after a broken connection, a 503 or a 429; any request is repeated after a 429, which
 * the server sends before doing anything. Waits back off exponentially (with jitter) and are at
 * least the server's {@code Retry-After}; a {@code Retry-After} beyond {@code maxRetryWait} is not
 * waited for (the exception says it).
 */
public final class ReinsClient {
  /** The server's types, read leniently: a newer server may add fields. */
  private static final ObjectMapper JSON =
      ReinsJson.mapper().copy().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private static final String LAST_EVENT_ID = "Last-Event-ID";

  private final String base;
  private final String token;
  private final HttpClient http;
  private final Duration requestTimeout;
  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Duration maxRetryWait;
  private final Sleeper sleeper;

  /** How the client waits between attempts (a test may record instead). */
  @FunctionalInterface
  public interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  /** A submit's answer: the run, and whether this request created it (202) or found it by its idempotency key (200). */
  public record Submitted(RunView run, boolean created) {}

  /** A cancel's answer: the run and the server's {@code Reins-Outcome} ({@code changed}, {@code unchanged}, {@code already_terminal}). */
  public record Cancelled(RunView run, String outcome) {}

  private ReinsClient(Builder b) {
    String url = b.url.toString();
    this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    this.token = b.token;
    this.http = b.http != null ? b.http : HttpClient.newBuilder().connectTimeout(b.connectTimeout).build();
    this.requestTimeout = b.requestTimeout;
    this.maxAttempts = b.maxAttempts;
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.maxRetryWait = b.maxRetryWait;
    this.sleeper = b.sleeper;
  }

  /** @param url the server, e.g. {@code http://127.0.0.1:8080} (without {@code /v1}) */
  public static Builder builder(URI url) {
    return new Builder(url);
  }

  /** The shared JSON configuration (the server's, tolerant of fields this client does not know). */
  public static ObjectMapper json() {
    return JSON;
  }

  // ---- runs ------------------------------------------------------------------------------------

  /** {@code POST /v1/runs}. Repeated on a failure only when the request has an {@code idempotencyKey}. */
  public Submitted submit(SubmitRunRequest request) {
    HttpResponse<String> r = send("submit", post("/v1/runs", request), request.idempotencyKey() != null, requestTimeout);
    return new Submitted(read(r, RunView.class), r.statusCode() == 202);
  }

  /** {@code GET /v1/runs/{id}}. */
  public RunView get(String runId) {
    return read(send("get run " + runId, getRequest("/v1/runs/" + seg(runId)), true, requestTimeout), RunView.class);
  }

  /** {@code GET /v1/runs}: one page; its {@code next} (null on the last page) goes into {@link RunQuery#withCursor}. */
  public RunPage list(RunQuery query) {
    List<String> params = new ArrayList<>();
    if (query.state() != null) {
      params.add(param("state", query.state().json()));
    }
    query.labels().forEach((k, v) -> params.add(param("label", k + ":" + v)));
    if (query.parentRunId() != null) {
      params.add(param("parentRunId", query.parentRunId()));
    }
    if (query.createdAfter() != null) {
      params.add(param("createdAfter", query.createdAfter().toString()));
    }
    if (query.limit() != null) {
      params.add(param("limit", query.limit().toString()));
    }
    if (query.cursor() != null) {
      params.add(param("cursor", query.cursor()));
    }
    String q = params.isEmpty() ? "" : "?" + String.join("&", params);
    return read(send("list runs", getRequest("/v1/runs" + q), true, requestTimeout), RunPage.class);
  }

  /**
   * {@code POST /v1/runs/{id}/cancel}; with a {@code wait} above zero (at most 60 s) the server
   * answers once the run has ended or the wait is over. Safe to repeat: a second cancel answers
   * {@code unchanged} or {@code already_terminal}.
   */
  public Cancelled cancel(String runId, String reason, Duration wait) {
    String q = wait == null || wait.isZero() ? "" : "?wait=" + wait.toMillis() + "ms";
    HttpResponse<String> r = send("cancel run " + runId,
        post("/v1/runs/" + seg(runId) + "/cancel" + q, new CancelRequest(reason, null)), true, withWait(wait));
    return new Cancelled(read(r, RunView.class), r.headers().firstValue("Reins-Outcome").orElse(null));
  }

  /** {@code POST /v1/runs/{id}/reset}: a new attempt of a terminal run (409 otherwise). Not repeated after a failure. */
  public RunView reset(String runId, Integer attempt) {
    return read(send("reset run " + runId, post("/v1/runs/" + seg(runId) + "/reset", new ResetRequest(attempt)), false,
        requestTimeout), RunView.class);
  }

  /** {@code GET /v1/runs/{id}/events}: the run's journal, in order. */
  public List<StoredEvent> events(String runId) {
    HttpResponse<String> r = send("events of run " + runId, getRequest("/v1/runs/" + seg(runId) + "/events"), true, requestTimeout);
    return read(r, new TypeReference<List<StoredEvent>>() {});
  }

  /** {@code GET /v1/runs/{id}/logs}: the last {@code tail} bytes (null: the server's 64 KiB) of an attempt's output (null: the current one). */
  public String logs(String runId, Integer attempt, Integer tail) {
    List<String> params = new ArrayList<>();
    if (attempt != null) {
      params.add(param("attempt", attempt.toString()));
    }
    if (tail != null) {
      params.add(param("tail", tail.toString()));
    }
    String q = params.isEmpty() ? "" : "?" + String.join("&", params);
    HttpRequest.Builder request = request("/v1/runs/" + seg(runId) + "/logs" + q).header("Accept", "text/plain").GET();
    return send("logs of run " + runId, request, true, requestTimeout).body();
  }

  /**
   * Follows the run live over {@code GET /v1/runs/{id}/events/stream} until it is terminal, handing
   * each event after {@code afterSeq} (0: from the first) to {@code onEvent} in order, exactly once:
   * a broken stream is resumed with {@code Last-Event-ID}. Returns the run as it ended. Blocks the
   * calling thread; interrupt it to stop (a {@link ReinsException} then).
   */
  public RunView watch(String runId, long afterSeq, Consumer<StoredEvent> onEvent) {
    long last = afterSeq;
    int failures = 0;
    while (true) {
      HttpRequest.Builder request = request("/v1/runs/" + seg(runId) + "/events/stream")
          .header("Accept", "text/event-stream").GET();
      if (last > 0) {
        request.header(LAST_EVENT_ID, Long.toString(last));
      }
      HttpResponse<Stream<String>> r;
      try {
        r = http.send(request.build(), HttpResponse.BodyHandlers.ofLines());
      } catch (IOException e) {
        failures = retryOrThrow("watch run " + runId, failures, null, new ReinsException("watch run " + runId + ": " + e, e));
        continue;
      } catch (InterruptedException e) {
        throw interrupted("watch run " + runId);
      }
      if (r.statusCode() == 204) {
        return get(runId); // terminal, and nothing after `last`
      }
      if (r.statusCode() != 200) {
        String body;
        try (Stream<String> lines = r.body()) {
          body = String.join("\n", (Iterable<String>) lines::iterator);
        }
        ReinsApiException e = problem("watch run " + runId, r.statusCode(), r.headers(), body);
        if (r.statusCode() != 503 && r.statusCode() != 429) {
          throw e;
        }
        failures = retryOrThrow("watch run " + runId, failures, e.retryAfter().orElse(null), e);
        continue;
      }
      Sse.Outcome outcome;
      try (Stream<String> lines = r.body()) {
        outcome = Sse.read(lines.iterator(), event -> {
          StoredEvent stored = readJson(event.data(), StoredEvent.class);
          onEvent.accept(stored);
          return stored.seq();
        });
      } catch (UncheckedIOException e) {
        outcome = new Sse.Outcome(Sse.Outcome.NONE, null, e);
      }
      if (outcome.lastSeq() > last) {
        last = outcome.lastSeq();
        failures = 0; // it made progress: a later break starts counting again
      }
      if ("terminal".equals(outcome.closedReason())) {
        return get(runId);
      }
      // closed for another reason (a slow client), or the connection broke: resume after `last`
      ReinsException cause = new ReinsException("watch run " + runId + ": the stream ended"
          + (outcome.closedReason() != null ? " (" + outcome.closedReason() + ")" : ""), outcome.error());
      failures = retryOrThrow("watch run " + runId, failures, null, cause);
    }
  }

  // ---- delegations ------------------------------------------------------------------------------

  /** {@code POST /v1/runs/{id}/delegations}. Repeated on a failure only with an {@code idempotencyKey}. */
  public DelegationView delegate(String runId, CreateDelegationRequest request) {
    return read(send("delegate from run " + runId, post("/v1/runs/" + seg(runId) + "/delegations", request),
        request.idempotencyKey() != null, requestTimeout), DelegationView.class);
  }

  /** {@code GET /v1/runs/{id}/delegations/{did}}; a {@code wait} above zero (at most 60 s) long-polls until it is terminal. */
  public DelegationView delegation(String runId, String delegationId, Duration wait) {
    String q = wait == null || wait.isZero() ? "" : "?wait=" + wait.toMillis() + "ms";
    return read(send("get delegation " + delegationId,
        getRequest("/v1/runs/" + seg(runId) + "/delegations/" + seg(delegationId) + q), true, withWait(wait)), DelegationView.class);
  }

  /** {@code GET /v1/runs/{id}/delegations}. */
  public List<DelegationView> delegations(String runId) {
    return read(send("delegations of run " + runId, getRequest("/v1/runs/" + seg(runId) + "/delegations"), true, requestTimeout),
        new TypeReference<List<DelegationView>>() {});
  }

  /** {@code POST /v1/runs/{id}/delegations/{did}/cancel}: safe to repeat. */
  public DelegationView cancelDelegation(String runId, String delegationId) {
    return read(send("cancel delegation " + delegationId,
        request("/v1/runs/" + seg(runId) + "/delegations/" + seg(delegationId) + "/cancel")
            .POST(HttpRequest.BodyPublishers.noBody()), true, requestTimeout), DelegationView.class);
  }

  // ---- cluster ----------------------------------------------------------------------------------

  /** {@code GET /v1/cluster}: the members as the answering node sees them, with their worker slots. */
  public ClusterView cluster() {
    return read(send("cluster", getRequest("/v1/cluster"), true, requestTimeout), ClusterView.class);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private HttpRequest.Builder request(String pathAndQuery) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery))
        .header("User-Agent", "reins-client");
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return b;
  }

  private HttpRequest.Builder getRequest(String pathAndQuery) {
    return request(pathAndQuery).header("Accept", "application/json").GET();
  }

  private HttpRequest.Builder post(String pathAndQuery, Object body) {
    String json;
    try {
      json = JSON.writeValueAsString(body);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot write the request as JSON", e);
    }
    return request(pathAndQuery).header("Accept", "application/json").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json));
  }

  private Duration withWait(Duration wait) {
    return wait == null ? requestTimeout : requestTimeout.plus(wait);
  }

  /**
   * Sends the request, repeating it as the class comment says; an answer of 400 or more becomes a
   * {@link ReinsApiException}.
   */
  private HttpResponse<String> send(String what, HttpRequest.Builder request, boolean safe, Duration timeout) {
    HttpRequest built = request.timeout(timeout).build();
    int failures = 0;
    while (true) {
      HttpResponse<String> r;
      try {
        r = http.send(built, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      } catch (IOException e) {
        ReinsException failure = new ReinsException(what + ": " + describe(e), e);
        if (!safe) {
          throw failure;
        }
        failures = retryOrThrow(what, failures, null, failure);
        continue;
      } catch (InterruptedException e) {
        throw interrupted(what);
      }
      if (r.statusCode() < 400) {
        return r;
      }
      ReinsApiException e = problem(what, r.statusCode(), r.headers(), r.body());
      // a 429 is sent before anything is done; a 503 may come after the command took effect
      boolean retryable = r.statusCode() == 429 || (r.statusCode() == 503 && safe);
      if (!retryable) {
        throw e;
      }
      failures = retryOrThrow(what, failures, e.retryAfter().orElse(null), e);
    }
  }

  /** Waits before the next attempt and returns the failures so far, or throws {@code failure} when no attempt is left. */
  private int retryOrThrow(String what, int failures, Duration retryAfter, ReinsException failure) {
    int n = failures + 1;
    if (n >= maxAttempts) {
      throw failure;
    }
    if (retryAfter != null && retryAfter.compareTo(maxRetryWait) > 0) {
      throw failure;
    }
    long cap = Math.min(maxBackoff.toMillis(), initialBackoff.toMillis() << Math.min(20, n - 1));
    long delay = cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
    Duration wait = Duration.ofMillis(delay);
    if (retryAfter != null && retryAfter.compareTo(wait) > 0) {
      wait = retryAfter;
    }
    try {
      sleeper.sleep(wait);
    } catch (InterruptedException e) {
      throw interrupted(what);
    }
    return n;
  }

  private static ReinsException interrupted(String what) {
    Thread.currentThread().interrupt();
    return new ReinsException(what + ": interrupted");
  }

  private static String describe(IOException e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  static ReinsApiException problem(String what, int status, java.net.http.HttpHeaders headers, String body) {
    Problem problem = null;
    String type = headers.firstValue("Content-Type").orElse("");
    if (type.contains("json") && body != null && !body.isBlank()) {
      try {
        JsonNode node = JSON.readTree(body);
        if (node.isObject()) {
          problem = new Problem(text(node, "type"), text(node, "title"), node.path("status").asInt(status),
              text(node, "detail"), text(node, "field"));
        }
      } catch (JsonProcessingException e) {
        problem = null;
      }
    }
    if (problem == null) {
      String detail = body == null || body.isBlank() ? null : body.strip();
      problem = new Problem(null, "HTTP " + status, status, detail, null);
    }
    return new ReinsApiException(what, problem, retryAfter(headers));
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  /** {@code Retry-After} in seconds (the server's form); an HTTP date is read as "soon". */
  static Duration retryAfter(java.net.http.HttpHeaders headers) {
    return headers.firstValue("Retry-After").map(v -> {
      try {
        return Duration.ofSeconds(Math.max(0, Long.parseLong(v.trim())));
      } catch (NumberFormatException e) {
        return Duration.ofSeconds(1);
      }
    }).orElse(null);
  }

  private static <T> T read(HttpResponse<String> r, Class<T> type) {
    return readJson(r.body(), type);
  }

  private static <T> T read(HttpResponse<String> r, TypeReference<T> type) {
    try {
      return JSON.readValue(r.body(), type);
    } catch (JsonProcessingException e) {
      throw new ReinsException("cannot read the server's answer: " + e.getOriginalMessage(), e);
    }
  }

  private static <T> T readJson(String body, Class<T> type) {
    try {
      return JSON.readValue(body, type);
    } catch (JsonProcessingException e) {
      throw new ReinsException("cannot read the server's answer as " + type.getSimpleName() + ": " + e.getOriginalMessage(), e);
    }
  }

  private static String seg(String pathSegment) {
    Objects.requireNonNull(pathSegment, "id");
    return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static String param(String name, String value) {
    return name + "=" + URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** Server-Sent Events as the server writes them: {@code id:}, {@code event:}, {@code data:} lines, a blank line ends one. */
  static final class Sse {
    record Event(String id, String name, String data) {}

    /** What a stream gave: the last event's seq, the {@code closed} event's reason if one came, the error that broke it if any. */
    record Outcome(long lastSeq, String closedReason, Exception error) {
      static final long NONE = -1;
    }

    @FunctionalInterface
    interface Handler {
      long accept(Event event);
    }

    static Outcome read(Iterator<String> lines, Handler handler) {
      long last = Outcome.NONE;
      String id = null;
      String name = null;
      StringBuilder data = null;
      while (lines.hasNext()) {
        String line = lines.next();
        if (line.isEmpty()) {
          if (data != null) {
            String payload = data.toString();
            if ("closed".equals(name)) {
              String reason;
              try {
                reason = JSON.readTree(payload).path("reason").asText(null);
              } catch (JsonProcessingException e) {
                reason = "unreadable";
              }
              return new Outcome(last, reason == null ? "closed" : reason, null);
            }
            if (name == null || "message".equals(name)) {
              last = handler.accept(new Event(id, name, payload));
            }
          }
          id = null;
          name = null;
          data = null;
          continue;
        }
        if (line.startsWith(":")) {
          continue; // a keep-alive comment
        }
        int colon = line.indexOf(':');
        String field = colon < 0 ? line : line.substring(0, colon);
        String value = colon < 0 ? "" : line.substring(colon + 1);
        if (value.startsWith(" ")) {
          value = value.substring(1);
        }
        switch (field) {
          case "id" -> id = value;
          case "event" -> name = value;
          case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
          default -> { } // retry and unknown fields
        }
      }
      return new Outcome(last, null, null);
    }
  }

  /** Where the client connects and how patiently. */
  public static final class Builder {
    private final URI url;
    private String token;
    private HttpClient http;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(30);
    private int maxAttempts = 5;
    private Duration initialBackoff = Duration.ofMillis(200);
    private Duration maxBackoff = Duration.ofSeconds(5);
    private Duration maxRetryWait = Duration.ofSeconds(30);
    private Sleeper sleeper = d -> Thread.sleep(d.toMillis());

    private Builder(URI url) {
      if (url == null || url.getScheme() == null
          || !(url.getScheme().equals("http") || url.getScheme().equals("https")) || url.getHost() == null) {
        throw new IllegalArgumentException("the server's URL must be http:// or https:// with a host, got " + url);
      }
      this.url = url;
    }

    /** The bearer token (an API token, or a run's {@code REINS_TOKEN}). */
    public Builder token(String t) {
      this.token = t;
      return this;
    }

    /** An {@link HttpClient} of your own (proxy, TLS); {@link #connectTimeout} is then its business. */
    public Builder httpClient(HttpClient c) {
      this.http = c;
      return this;
    }

    public Builder connectTimeout(Duration d) {
      this.connectTimeout = d;
      return this;
    }

    /** How long one request may take (a long poll's wait is added). Default 30 s. */
    public Builder requestTimeout(Duration d) {
      this.requestTimeout = d;
      return this;
    }

    /** Attempts of a request that may be repeated, the first included (1: never repeat). Default 5. */
    public Builder maxAttempts(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxAttempts must be at least 1");
      }
      this.maxAttempts = n;
      return this;
    }

    /** The first wait between attempts, doubled each time up to {@code max}. Defaults 200 ms and 5 s. */
    public Builder backoff(Duration initial, Duration max) {
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /** The longest {@code Retry-After} worth waiting for (longer: the request fails at once). Default 30 s. */
    public Builder maxRetryWait(Duration d) {
      this.maxRetryWait = d;
      return this;
    }

    public Builder sleeper(Sleeper s) {
      this.sleeper = s;
      return this;
    }

    public ReinsClient build() {
      return new ReinsClient(this);
    }
  }

  @Override
  public String toString() {
    return "ReinsClient[" + base + "]";
  }
}
