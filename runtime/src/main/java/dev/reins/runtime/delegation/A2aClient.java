package dev.reins.runtime.delegation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.json.ReinsJson;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.ConnectHttp;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.headers.Accept;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.http.javadsl.unmarshalling.sse.EventStreamUnmarshalling;
import org.apache.pekko.http.scaladsl.settings.ServerSentEventSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Source;

/**
 * A small A2A client on Pekko HTTP: the agent card, JSON-RPC calls and task subscriptions (SSE),
 * in the v1.0 names ({@code SendMessage}, {@code GetTask}, {@code CancelTask}, {@code
 * SubscribeToTask}, {@code ListTasks}, header {@code A2A-Version: 1.0}) or, for a peer whose card
 * only offers 0.3, the v0.3 names ({@code message/send}, {@code tasks/get}, {@code tasks/cancel},
 * {@code tasks/resubscribe}). Every error is an {@link A2aException} with a stable reason.
 *
 * <p>Short calls share a connection pool; each subscription gets a connection of its own, so that
 * long-lived streams never hold the pool's connections that a cancel needs.
 */
public final class A2aClient {
  static final String CARD_PATH = "/.well-known/agent-card.json";
  private static final ObjectMapper JSON = ReinsJson.mapper();

  public enum Version {
    V1_0("1.0", "SendMessage", "GetTask", "CancelTask", "SubscribeToTask"),
    V0_3("0.3", "message/send", "tasks/get", "tasks/cancel", "tasks/resubscribe");

    final String header;
    final String send;
    final String get;
    final String cancel;
    final String subscribe;

    Version(String header, String send, String get, String cancel, String subscribe) {
      this.header = header;
      this.send = send;
      this.get = get;
      this.cancel = cancel;
      this.subscribe = subscribe;
    }
  }

  /** What the agent card says about how to talk to the agent. */
  public record Peer(String rpcUrl, Version version, boolean streaming) {}

  /** A remote task as far as a delegation cares: its state (normalized, e.g. {@code working}) and output. */
  public record RemoteTask(String id, String state, String statusText, List<Artifact> artifacts) {
    public RemoteTask {
      artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
    }

    /** Every artifact's parts, in order, as a delegation's result keeps them. */
    public List<DelegationResult.Part> parts() {
      List<DelegationResult.Part> out = new ArrayList<>();
      for (Artifact a : artifacts) {
        for (DelegationResult.Part p : a.parts()) {
          out.add(new DelegationResult.Part(a.name(), p.text(), p.data()));
        }
      }
      return out;
    }

    boolean terminal() {
      return switch (state) {
        case "completed", "failed", "canceled", "rejected", "input-required", "auth-required" -> true;
        default -> false;
      };
    }
  }

  /** One artifact of a task ({@code id} may be null for an answer that was a message). */
  public record Artifact(String id, String name, List<DelegationResult.Part> parts) {
    public Artifact {
      parts = List.copyOf(parts);
    }
  }

  /**
   * One event of a task's stream: the task as it is ({@code SNAPSHOT}, the first event of a
   * subscription), a status change ({@code STATUS}: {@code task} has id, state and status text),
   * an artifact or a chunk of one ({@code ARTIFACT}), or anything else ({@code OTHER}).
   */
  public record StreamEvent(Kind kind, RemoteTask task, Artifact artifact, boolean append) {
    public enum Kind { SNAPSHOT, STATUS, ARTIFACT, OTHER }
  }

  /** An error talking to a peer; {@code transientError}: worth another try (while watching a task). */
  public static final class A2aException extends RuntimeException {
    private final String reason;
    private final boolean transientError;
    private final Integer rpcCode;

    A2aException(String reason, String detail, boolean transientError, Integer rpcCode) {
      super(detail, null, false, false);
      this.reason = reason;
      this.transientError = transientError;
      this.rpcCode = rpcCode;
    }

    A2aException(String reason, String detail, boolean transientError) {
      this(reason, detail, transientError, null);
    }

    public String reason() {
      return reason;
    }

    public boolean isTransient() {
      return transientError;
    }

    public Integer rpcCode() {
      return rpcCode;
    }
  }

  private final ActorSystem<?> system;
  private final A2aSettings settings;
  private final Http http;
  private final Materializer mat;
  private final ConnectionPoolSettings pool;
  private final ServerSentEventSettings sse;
  private final AtomicLong ids = new AtomicLong();

  public A2aClient(ActorSystem<?> system, A2aSettings settings) {
    this.system = system;
    this.settings = settings;
    this.http = Http.get(system);
    this.mat = Materializer.matFromSystem(system);
    // delegations to one agent share its pool: enough connections that sends, polls and cancels
    // of many delegations do not queue behind each other
    this.pool = ConnectionPoolSettings.create(system.classicSystem()).withMaxConnections(64).withMaxOpenRequests(1024)
        .withMaxRetries(0); // the driver decides what to retry: never a send
    int max = (int) Math.min(Integer.MAX_VALUE - 1024, settings.maxResponse());
    // an event is one JSON-RPC response on one data line: allow both up to max-response
    this.sse = ((ServerSentEventSettings) ServerSentEventSettings.apply(system.classicSystem()))
        .withMaxEventSize(max + 1024).withLineLength(max);
  }

  public A2aSettings settings() {
    return settings;
  }

  // ---- the agent card -------------------------------------------------------------------------

  /** Reads the agent card at {@code url} and picks a JSON-RPC interface: 1.0 if offered, else 0.3. */
  public CompletionStage<Peer> card(String url, Duration timeout) {
    String cardUrl = base(url) + CARD_PATH;
    HttpRequest req = HttpRequest.GET(cardUrl).addHeaders(headers(url, Version.V1_0));
    return strict(req, timeout, "the agent card at " + cardUrl).thenApply(body -> {
      JsonNode card = parse(body, "the agent card at " + cardUrl);
      Peer peer = peerOf(card, url);
      if (!settings.allowlist().allows(peer.rpcUrl())) {
        // the card must not turn an allowed agent into a way to reach any address
        throw new A2aException("target_not_allowed", "the agent card at " + cardUrl + " points to " + peer.rpcUrl()
            + ", which is not among the allowed targets (REINS_A2A_ALLOWED_URLS)", false);
      }
      return peer;
    });
  }

  static Peer peerOf(JsonNode card, String url) {
    if (card == null || !card.isObject()) {
      throw new A2aException("malformed_card", "the agent card at " + url + " is not a JSON object", false);
    }
    boolean streaming = card.path("capabilities").path("streaming").asBoolean(false);
    JsonNode interfaces = card.path("supportedInterfaces");
    if (interfaces.isArray() && !interfaces.isEmpty()) {
      Peer v03 = null;
      for (JsonNode i : interfaces) {
        String binding = i.path("protocolBinding").asText("");
        String version = i.path("protocolVersion").asText("");
        String at = i.path("url").asText("");
        if (!binding.equalsIgnoreCase("JSONRPC") || at.isEmpty()) {
          continue;
        }
        if (version.startsWith("1.")) {
          return new Peer(at, Version.V1_0, streaming);
        }
        if (version.startsWith("0.3") && v03 == null) {
          v03 = new Peer(at, Version.V0_3, streaming);
        }
      }
      if (v03 != null) {
        return v03;
      }
      throw new A2aException("unsupported_peer", "the agent at " + url
          + " offers no JSON-RPC interface of A2A 1.0 or 0.3 (supportedInterfaces: " + interfaces + ")", false);
    }
    // a v0.3 card: url, preferredTransport, protocolVersion
    String at = card.path("url").asText("");
    String version = card.path("protocolVersion").asText("");
    String transport = card.path("preferredTransport").asText("JSONRPC");
    if (at.isEmpty()) {
      throw new A2aException("malformed_card", "the agent card at " + url + " names no interface (no supportedInterfaces, no url)", false);
    }
    if (!version.startsWith("0.3") || !transport.equalsIgnoreCase("JSONRPC")) {
      throw new A2aException("unsupported_peer", "the agent at " + url + " speaks A2A " + (version.isEmpty() ? "(no version)" : version)
          + " over " + transport + "; Reins speaks JSON-RPC 1.0 and 0.3", false);
    }
    return new Peer(at, Version.V0_3, streaming);
  }

  // ---- JSON-RPC -------------------------------------------------------------------------------

  /** Sends the delegation's message; the answer is the task (or, for an agent that answers at once, a finished one). */
  public CompletionStage<RemoteTask> send(Peer peer, String messageId, String contextId, String text, JsonNode data, Duration timeout) {
    ObjectNode message = JSON.createObjectNode();
    message.put("messageId", messageId);
    message.put("contextId", contextId);
    var parts = message.putArray("parts");
    if (peer.version() == Version.V1_0) {
      message.put("role", "ROLE_USER");
      if (text != null) {
        parts.addObject().put("text", text);
      }
      if (data != null) {
        parts.addObject().set("data", data);
      }
    } else {
      message.put("kind", "message");
      message.put("role", "user");
      if (text != null) {
        parts.addObject().put("kind", "text").put("text", text);
      }
      if (data != null) {
        parts.addObject().put("kind", "data").set("data", data);
      }
    }
    ObjectNode params = JSON.createObjectNode();
    params.set("message", message);
    if (peer.version() == Version.V1_0) {
      params.putObject("configuration").put("returnImmediately", true);
    } else {
      params.putObject("configuration").put("blocking", false);
    }
    return call(peer, peer.version().send, params, timeout).thenApply(result -> {
      JsonNode task = peer.version() == Version.V1_0 ? result.get("task") : ("task".equals(result.path("kind").asText()) ? result : null);
      JsonNode msg = peer.version() == Version.V1_0 ? result.get("message") : ("message".equals(result.path("kind").asText()) ? result : null);
      if (task != null && task.isObject()) {
        return task(task, peer.rpcUrl());
      }
      if (msg != null && msg.isObject()) {
        // the agent answered with a message and made no task: that answer is the result
        String id = msg.path("taskId").asText(msg.path("messageId").asText(""));
        return new RemoteTask(id.isEmpty() ? "message:" + messageId : id, "completed", null,
            List.of(new Artifact(null, null, parts(msg.path("parts"), null))));
      }
      throw malformed(peer, peer.version().send + " answered neither a task nor a message: " + abbreviate(result.toString()));
    });
  }

  public CompletionStage<RemoteTask> get(Peer peer, String taskId, Duration timeout) {
    ObjectNode params = JSON.createObjectNode().put("id", taskId);
    return call(peer, peer.version().get, params, timeout).thenApply(t -> task(t, peer.rpcUrl()));
  }

  public CompletionStage<RemoteTask> cancel(Peer peer, String taskId, Duration timeout) {
    ObjectNode params = JSON.createObjectNode().put("id", taskId);
    return call(peer, peer.version().cancel, params, timeout).thenApply(t -> task(t, peer.rpcUrl()));
  }

  /**
   * The id of a task in {@code contextId} (v1.0 {@code ListTasks}), or null if there is none. A
   * v0.3 peer has no way to list tasks: null.
   */
  public CompletionStage<String> findTask(Peer peer, String contextId, Duration timeout) {
    if (peer.version() != Version.V1_0) {
      return CompletableFuture.completedFuture(null);
    }
    ObjectNode params = JSON.createObjectNode().put("contextId", contextId).put("pageSize", 10);
    return call(peer, "ListTasks", params, timeout).thenApply(result -> {
      JsonNode tasks = result.path("tasks");
      if (!tasks.isArray()) {
        throw malformed(peer, "ListTasks answered no task list: " + abbreviate(result.toString()));
      }
      return tasks.isEmpty() ? null : tasks.get(0).path("id").asText(null);
    });
  }

  CompletionStage<JsonNode> call(Peer peer, String method, ObjectNode params, Duration timeout) {
    ObjectNode rpc = JSON.createObjectNode();
    rpc.put("jsonrpc", "2.0");
    long id = ids.incrementAndGet();
    rpc.put("id", id);
    rpc.put("method", method);
    rpc.set("params", params);
    HttpRequest req = HttpRequest.POST(peer.rpcUrl())
        .withEntity(ContentTypes.APPLICATION_JSON, bytes(rpc))
        .addHeaders(headers(peer.rpcUrl(), peer.version()));
    String what = method + " at " + peer.rpcUrl();
    long started = System.nanoTime();
    return strict(req, timeout, what).thenApply(body -> result(parse(body, what), what)).whenComplete((r, e) ->
        dev.reins.runtime.metrics.ReinsMetrics.get(system).remoteCall(method, e == null ? "ok" : "error", System.nanoTime() - started));
  }

  private static JsonNode result(JsonNode answer, String what) {
    if (answer == null || !answer.isObject()) {
      throw new A2aException("malformed_response", what + " answered something that is not a JSON-RPC response", false);
    }
    JsonNode error = answer.get("error");
    if (error != null && !error.isNull()) {
      int code = error.path("code").asInt(0);
      throw new A2aException("rpc_error", what + " answered JSON-RPC error " + code + ": " + abbreviate(error.path("message").asText("")),
          false, code);
    }
    JsonNode result = answer.get("result");
    if (result == null || !result.isObject()) {
      throw new A2aException("malformed_response", what + " answered no result object: " + abbreviate(answer.toString()), false);
    }
    return result;
  }

  // ---- streaming ------------------------------------------------------------------------------

  /**
   * The task's events ({@code SubscribeToTask} / {@code tasks/resubscribe}), the same for both
   * versions. On its own connection; cancel by cancelling the stream.
   */
  public Source<StreamEvent, NotUsed> subscribe(Peer peer, String taskId, Duration connectTimeout) {
    ObjectNode rpc = JSON.createObjectNode();
    rpc.put("jsonrpc", "2.0");
    rpc.put("id", ids.incrementAndGet());
    rpc.put("method", peer.version().subscribe);
    rpc.putObject("params").put("id", taskId);
    List<HttpHeader> headers = new ArrayList<>(headers(peer.rpcUrl(), peer.version()));
    headers.add(Accept.create(MediaTypes.TEXT_EVENT_STREAM.toRange()));
    HttpRequest req = HttpRequest.POST(peer.rpcUrl()).withEntity(ContentTypes.APPLICATION_JSON, bytes(rpc)).addHeaders(headers);
    String what = peer.version().subscribe + " at " + peer.rpcUrl();
    URI u = URI.create(peer.rpcUrl());
    ConnectHttp to = u.getScheme().equalsIgnoreCase("https")
        ? ConnectHttp.toHostHttps(u.getHost(), port(u))
        : ConnectHttp.toHost(u.getHost(), port(u));
    CompletionStage<HttpResponse> response = timed(
        Source.single(req).via(http.outgoingConnection(to)).runWith(org.apache.pekko.stream.javadsl.Sink.head(), mat),
        connectTimeout, what);
    return Source.completionStageSource(response.thenCompose(resp -> {
      if (!resp.status().isSuccess()) {
        resp.discardEntityBytes(mat);
        throw httpError(resp.status().intValue(), what);
      }
      if (!resp.entity().getContentType().mediaType().equals(MediaTypes.TEXT_EVENT_STREAM)) {
        // a JSON-RPC error (the task is already over, or unknown) comes as plain JSON
        return resp.entity().toStrict(connectTimeout.toMillis(), settings.maxResponse(), mat)
            .thenApply(strict -> {
              result(parse(strict.getData().utf8String(), what), what);
              throw new A2aException("malformed_response", what + " answered a result but no event stream", false);
            });
      }
      return EventStreamUnmarshalling.fromEventsStream(sse).unmarshal(resp.entity(), mat)
          .thenApply(events -> events.map(e -> event(peer, e, what)));
    })).mapMaterializedValue(m -> NotUsed.getInstance())
        .mapError(new scala.PartialFunction<Throwable, Throwable>() {
          @Override
          public boolean isDefinedAt(Throwable t) {
            return !(t instanceof A2aException);
          }

          @Override
          public Throwable apply(Throwable t) {
            return classify(t, what);
          }
        });
  }

  private StreamEvent event(Peer peer, ServerSentEvent e, String what) {
    JsonNode result = result(parse(e.getData(), what), what);
    JsonNode task;
    JsonNode status;
    JsonNode artifact;
    if (peer.version() == Version.V1_0) {
      task = result.get("task");
      status = result.get("statusUpdate");
      artifact = result.get("artifactUpdate");
      if (task == null && status == null && artifact == null && !result.has("message")) {
        throw malformed(peer, what + " streamed an event of no known kind: " + abbreviate(result.toString()));
      }
    } else {
      String kind = result.path("kind").asText("");
      task = kind.equals("task") ? result : null;
      status = kind.equals("status-update") ? result : null;
      artifact = kind.equals("artifact-update") ? result : null;
      if (task == null && status == null && artifact == null && !kind.equals("message")) {
        throw malformed(peer, what + " streamed an event of no known kind: " + abbreviate(result.toString()));
      }
    }
    if (task != null) {
      return new StreamEvent(StreamEvent.Kind.SNAPSHOT, task(task, peer.rpcUrl()), null, false);
    }
    if (status != null) {
      String state = state(status.path("status").path("state").asText(""));
      if (state == null) {
        throw malformed(peer, what + " streamed a status of no known state: " + abbreviate(status.toString()));
      }
      return new StreamEvent(StreamEvent.Kind.STATUS,
          new RemoteTask(status.path("taskId").asText(), state, statusText(status.path("status")), List.of()), null, false);
    }
    if (artifact != null) {
      return new StreamEvent(StreamEvent.Kind.ARTIFACT, null, artifact(artifact.path("artifact")), artifact.path("append").asBoolean(false));
    }
    return new StreamEvent(StreamEvent.Kind.OTHER, null, null, false);
  }

  // ---- normalizing the two versions -------------------------------------------------------------

  private static RemoteTask task(JsonNode t, String url) {
    String id = t.path("id").asText("");
    String state = state(t.path("status").path("state").asText(""));
    if (id.isEmpty() || state == null) {
      throw new A2aException("malformed_response", "the agent at " + url + " answered a task without id or known state: "
          + abbreviate(t.toString()), false);
    }
    List<Artifact> artifacts = new ArrayList<>();
    for (JsonNode artifact : t.path("artifacts")) {
      artifacts.add(artifact(artifact));
    }
    return new RemoteTask(id, state, statusText(t.path("status")), artifacts);
  }

  private static Artifact artifact(JsonNode a) {
    String id = a.path("artifactId").asText(null);
    return new Artifact(id, a.path("name").asText(id), parts(a.path("parts"), null));
  }

  /** {@code TASK_STATE_INPUT_REQUIRED} (1.0) and {@code input-required} (0.3) both become {@code input-required}. */
  static String state(String wire) {
    String s = wire.toLowerCase(Locale.ROOT);
    if (s.startsWith("task_state_")) {
      s = s.substring("task_state_".length()).replace('_', '-');
    }
    return switch (s) {
      case "submitted", "working", "completed", "failed", "canceled", "rejected", "input-required", "auth-required" -> s;
      case "cancelled" -> "canceled";
      default -> null;
    };
  }

  private static String statusText(JsonNode status) {
    StringBuilder b = new StringBuilder();
    for (JsonNode p : status.path("message").path("parts")) {
      if (p.has("text")) {
        b.append(p.get("text").asText());
      }
    }
    return b.isEmpty() ? null : b.toString();
  }

  private static List<DelegationResult.Part> parts(JsonNode parts, String artifact) {
    List<DelegationResult.Part> out = new ArrayList<>();
    for (JsonNode p : parts) {
      if (p.hasNonNull("text")) {
        out.add(new DelegationResult.Part(artifact, p.get("text").asText(), null));
      } else if (p.has("data")) {
        out.add(new DelegationResult.Part(artifact, null, p.get("data")));
      } else {
        out.add(new DelegationResult.Part(artifact, null, p)); // a file or raw part, as the peer sent it
      }
    }
    return out;
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private List<HttpHeader> headers(String url, Version version) {
    List<HttpHeader> headers = new ArrayList<>();
    headers.add(RawHeader.create("A2A-Version", version.header));
    for (Map.Entry<String, String> h : settings.headersFor(url).entrySet()) {
      headers.add(RawHeader.create(h.getKey(), h.getValue()));
    }
    return headers;
  }

  private CompletionStage<String> strict(HttpRequest req, Duration timeout, String what) {
    CompletionStage<String> body = http.singleRequest(req, http.defaultClientHttpsContext(), pool, system.classicSystem().log())
        .thenCompose(resp -> {
          if (!resp.status().isSuccess()) {
            resp.discardEntityBytes(mat);
            throw httpError(resp.status().intValue(), what);
          }
          return resp.entity().toStrict(Math.max(1, timeout.toMillis()), settings.maxResponse(), mat)
              .thenApply(e -> e.getData().utf8String());
        });
    return timed(body, timeout, what).exceptionally(t -> {
      throw classify(t, what);
    });
  }

  private static <T> CompletionStage<T> timed(CompletionStage<T> stage, Duration timeout, String what) {
    return stage.toCompletableFuture().orTimeout(Math.max(1, timeout.toMillis()), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private static A2aException httpError(int status, String what) {
    // 5xx and 429 may pass; other statuses will not change by asking again
    boolean again = status >= 500 || status == 429 || status == 408;
    return new A2aException("http_error", what + " answered HTTP " + status, again);
  }

  static A2aException classify(Throwable t, String what) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof java.util.concurrent.ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof A2aException a) {
      return a;
    }
    if (c instanceof TimeoutException) {
      return new A2aException("peer_timeout", what + " did not answer in time", true);
    }
    for (Throwable x = c; x != null; x = x.getCause()) {
      String m = String.valueOf(x.getMessage());
      if (x instanceof UnknownHostException || m.contains("UnknownHostException")) {
        return new A2aException("dns_failure", what + ": the host name does not resolve (" + abbreviate(m) + ")", true);
      }
      if (x instanceof ConnectException || m.contains("Connection refused") || m.contains("ConnectException")) {
        return new A2aException("peer_unreachable", what + ": connection refused", true);
      }
      if (x instanceof java.io.IOException && x.getMessage() != null && x.getMessage().contains("EntityStreamSizeException")) {
        return new A2aException("malformed_response", what + ": the answer is larger than max-response", false);
      }
    }
    if (c.getClass().getName().contains("EntityStreamSizeException")) {
      return new A2aException("malformed_response", what + ": the answer is larger than max-response", false);
    }
    return new A2aException("peer_unreachable", what + ": " + c.getClass().getSimpleName() + ": " + abbreviate(String.valueOf(c.getMessage())), true);
  }

  private static JsonNode parse(String body, String what) {
    try {
      return JSON.readTree(body);
    } catch (Exception e) {
      throw new A2aException("malformed_response", what + " answered something that is not JSON: " + abbreviate(body), false);
    }
  }

  private static A2aException malformed(Peer peer, String detail) {
    return new A2aException("malformed_response", detail, false);
  }

  private static byte[] bytes(JsonNode node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String base(String url) {
    URI u = URI.create(url);
    return u.getScheme() + "://" + u.getRawAuthority();
  }

  private static int port(URI u) {
    return u.getPort() != -1 ? u.getPort() : (u.getScheme().equalsIgnoreCase("https") ? 443 : 80);
  }

  static String abbreviate(String s) {
    String one = s.replaceAll("\\s+", " ");
    return one.length() <= 200 ? one : one.substring(0, 200) + "…";
  }

  static JsonNodeFactory nodes() {
    return JSON.getNodeFactory();
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
