package dev.reins.http;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** A Server-Sent Events reader for tests: events (and keep-alives, and the end) as they arrive. */
final class SseClient implements AutoCloseable {
  /** One SSE event; {@code type} is null for plain data events. */
  record Event(String id, String type, String data) {}

  /** A keep-alive: an event named keep-alive (or a comment line). */
  static final Event HEARTBEAT = new Event(null, "(heartbeat)", "");
  /** The response ended. */
  static final Event END = new Event(null, "(end)", "");

  final HttpResponse<Stream<String>> response;
  private final BlockingQueue<Event> received = new LinkedBlockingQueue<>();
  private final Thread reader;

  private SseClient(HttpResponse<Stream<String>> response) {
    this.response = response;
    this.reader = new Thread(this::read, "sse-reader");
    reader.setDaemon(true);
    reader.start();
  }

  static SseClient open(ApiClient api, String path, Map<String, String> headers) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(api.uri(path)).header("Accept", "text/event-stream");
    if (api.token() != null) {
      b.header("Authorization", "Bearer " + api.token());
    }
    headers.forEach(b::header);
    return new SseClient(api.http.send(b.GET().build(), HttpResponse.BodyHandlers.ofLines()));
  }

  int status() {
    return response.statusCode();
  }

  private void read() {
    String id = null;
    String type = null;
    StringBuilder data = null;
    boolean any = false;
    try (Stream<String> lines = response.body()) {
      for (String line : (Iterable<String>) lines::iterator) {
        if (line.isEmpty()) {
          received.add(!any || "keep-alive".equals(type) ? HEARTBEAT : new Event(id, type, data == null ? "" : data.toString()));
          id = null;
          type = null;
          data = null;
          any = false;
        } else if (line.startsWith(":")) {
          received.add(HEARTBEAT);
        } else {
          any = true;
          int colon = line.indexOf(':');
          String field = colon < 0 ? line : line.substring(0, colon);
          String value = colon < 0 ? "" : line.substring(colon + 1).replaceFirst("^ ", "");
          switch (field) {
            case "id" -> id = value;
            case "event" -> type = value;
            case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
            default -> { }
          }
        }
      }
    } catch (RuntimeException e) {
      // closed by the test, or the connection broke: either way the stream is over
    }
    received.add(END);
  }

  /** The next event or {@link #END}, keep-alives skipped; fails after {@code timeout}. */
  Event next(Duration timeout) throws InterruptedException {
    while (true) {
      Event e = nextOrHeartbeat(timeout);
      if (e != HEARTBEAT) {
        return e;
      }
    }
  }

  /** The next thing received, keep-alives included; fails after {@code timeout}. */
  Event nextOrHeartbeat(Duration timeout) throws InterruptedException {
    Event e = received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (e == null) {
      throw new AssertionError("nothing arrived on the stream within " + timeout);
    }
    return e;
  }

  @Override
  public void close() {
    response.body().close();
    reader.interrupt();
  }
}
