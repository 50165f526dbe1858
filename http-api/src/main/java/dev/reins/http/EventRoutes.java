package dev.reins.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.reins.http.auth.Caller;
import dev.reins.persistence.RunJournal;
import dev.reins.persistence.feed.FeedOffset;
import dev.reins.persistence.feed.JournalFeed;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.runtime.run.RunEntity.Outcome;
import dev.reins.runtime.run.Runs;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.BackpressureTimeoutException;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The journal as a feed: {@code GET /v1/events} (pages of every run's and delegation's events),
 * and live Server-Sent Events streams of the feed and of one run. The journal answers; these
 * routes only check who may read what and turn parameters into a query.
 *
 * <p>Who sees what: an API token sees its own tenant's events; an admin token of the default
 * tenant (the operators) sees every tenant's; a per-run token sees its own run's events (those of
 * its delegations included) while its attempt lives.
 */
final class EventRoutes extends AllDirectives {
  private static final Pattern RUN_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final Pattern SEQ = Pattern.compile("\\d{1,18}");
  static final int DEFAULT_LIMIT = 100;
  static final int MAX_LIMIT = 1000;
  /** The SSE event type of a stream's last event; its data says why the stream ends. */
  static final String CLOSED = "closed";
  private static final String LAST_EVENT_ID = "Last-Event-ID";
  /**
   * Sent when a stream was idle for the keep-alive time. A named event with no data: an
   * EventSource dispatches it to {@code keep-alive} listeners only (Pekko's own heartbeat is an
   * empty {@code data:} line, which an EventSource delivers as an empty message).
   */
  static final ServerSentEvent KEEP_ALIVE = ServerSentEvent.create("", "keep-alive");

  private final Runs runs;
  private final RunJournal journal;
  private final JournalFeed feed;
  private final EventSettings settings;
  private final AtomicLong slowClientsCut = new AtomicLong();

  EventRoutes(Runs runs, RunJournal journal, JournalFeed feed, EventSettings settings) {
    this.runs = runs;
    this.journal = journal;
    this.feed = feed;
    this.settings = settings;
  }

  List<Endpoint> endpoints() {
    return List.of(
        Endpoint.get("/events", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> feedParams(c, false, this::page)),
        Endpoint.get("/events/stream", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> feedParams(c, true, this::feedStream)),
        Endpoint.get("/runs/{id}/events/stream", Access.scopeOrOwnRun(Scope.RUNS_READ), this::runStream));
  }

  /** How many streams were cut off because their client took no event for the slow-client timeout. */
  long slowClientsCut() {
    return slowClientsCut.get();
  }

  // ---- the feed --------------------------------------------------------------------------------

  private record FeedQuery(FeedOffset after, int limit, JournalFeed.Filter filter) {}

  /** Reads and checks the feed's parameters, then who may see what, then {@code inner}. */
  private Route feedParams(Endpoint.Call c, boolean stream, Function<FeedQuery, Route> inner) {
    return parameterOptional("after", after -> parameterOptional("limit", limit -> parameterList("type", types ->
        parameterOptional("runId", runId -> {
          FeedOffset from = FeedOffset.START;
          Optional<String> lastEventId = stream ? c.request().getHeader(LAST_EVENT_ID).map(HttpHeader::value) : Optional.empty();
          String offsetField = lastEventId.isPresent() ? LAST_EVENT_ID : "after";
          Optional<String> offset = lastEventId.isPresent() ? lastEventId : after;
          try {
            if (offset.isPresent()) {
              from = FeedOffset.parse(offset.get());
            }
          } catch (IllegalArgumentException e) {
            return Problems.complete(Problem.invalidField(offsetField, e.getMessage()));
          }
          int n = DEFAULT_LIMIT;
          if (!stream && limit.isPresent()) {
            if (!limit.get().matches("\\d{1,4}") || Integer.parseInt(limit.get()) < 1 || Integer.parseInt(limit.get()) > MAX_LIMIT) {
              return Problems.complete(Problem.invalidField("limit", "a whole number from 1 to " + MAX_LIMIT));
            }
            n = Integer.parseInt(limit.get());
          }
          Set<String> typeSet = new LinkedHashSet<>();
          for (String t : types) {
            for (String one : t.split(",", -1)) {
              if (!JournalFeed.TYPES.contains(one)) {
                return Problems.complete(Problem.invalidField("type", "unknown event type '" + one + "' (known: "
                    + String.join(", ", JournalFeed.TYPES) + ")"));
              }
              typeSet.add(one);
            }
          }
          if (runId.isPresent() && !RUN_ID.matcher(runId.get()).matches()) {
            return Problems.complete(Problem.invalidField("runId", "a run id (a UUID)"));
          }
          FeedOffset start = from;
          int pageSize = n;
          return onSuccess(visible(c.caller(), new JournalFeed.Filter(typeSet, runId.orElse(null), null)), seen ->
              seen.problem() != null ? seen.problem() : inner.apply(new FeedQuery(start, pageSize, seen.filter())));
        }))));
  }

  private record Seen(JournalFeed.Filter filter, Route problem) {}

  /** {@code requested} narrowed to what {@code caller} may see (or the problem to answer instead). */
  private CompletionStage<Seen> visible(Caller caller, JournalFeed.Filter requested) {
    if (caller instanceof Caller.ApiCaller api) {
      boolean operator = api.scopes().contains(Scope.ADMIN) && Tenants.DEFAULT.equals(api.tenant());
      return CompletableFuture.completedFuture(new Seen(
          new JournalFeed.Filter(requested.types(), requested.runId(), operator ? null : api.tenant()), null));
    }
    Caller.RunCaller run = (Caller.RunCaller) caller;
    if (requested.runId() != null && !requested.runId().equals(run.runId())) {
      return CompletableFuture.completedFuture(new Seen(null, Problems.complete(Problem.notFound("no run with id " + requested.runId()))));
    }
    // the token is a credential while its attempt lives: its run says so
    return runs.get(run.runId(), run.runAccess()).thenApply(reply -> switch (reply.outcome()) {
      case UNCHANGED -> new Seen(new JournalFeed.Filter(requested.types(), run.runId(), run.tenant()), null);
      case ATTEMPT_ENDED -> new Seen(null, Problems.unauthorized(reply.detail(), true));
      default -> new Seen(null, Problems.complete(Problem.notFound(reply.detail())));
    });
  }

  private Route page(FeedQuery q) {
    return onSuccess(feed.page(q.after(), q.limit(), q.filter()), page -> Json.complete(StatusCodes.OK, page, List.of()));
  }

  private Route feedStream(FeedQuery q) {
    return stream(feed.live(q.after(), q.filter()).map(item -> ServerSentEvent.create(json(item.event()), Optional.empty(),
        Optional.of(item.offset().encode()), java.util.OptionalInt.empty())));
  }

  // ---- one run ---------------------------------------------------------------------------------

  /**
   * The run's events after {@code Last-Event-ID} (or {@code ?after=<seq>}, or from the start), then
   * live. Unless {@code ?follow=true}, the stream ends after the event that made the run terminal
   * (with a last event {@code closed}, reason {@code terminal}); a request for a terminal run with
   * nothing after the given point answers 204, which tells an EventSource not to reconnect.
   */
  private Route runStream(Endpoint.Call c) {
    String id = c.param("id");
    if (!RUN_ID.matcher(id).matches()) {
      return Problems.complete(Problem.notFound("no run with id '" + id + "'"));
    }
    return parameterOptional("after", afterParam -> parameterOptional("follow", followParam -> {
      Optional<String> lastEventId = c.request().getHeader(LAST_EVENT_ID).map(HttpHeader::value);
      String field = lastEventId.isPresent() ? LAST_EVENT_ID : "after";
      Optional<String> given = lastEventId.isPresent() ? lastEventId : afterParam;
      if (given.isPresent() && !SEQ.matcher(given.get().trim()).matches()) {
        return Problems.complete(Problem.invalidField(field, "a sequence number of the run's events (0 or more)"));
      }
      long after = given.map(s -> Long.parseLong(s.trim())).orElse(0L);
      if (followParam.isPresent() && !Set.of("true", "false").contains(followParam.get())) {
        return Problems.complete(Problem.invalidField("follow", "true or false"));
      }
      boolean follow = followParam.map(Boolean::parseBoolean).orElse(false);
      return onSuccess(runs.get(id, c.caller().runAccess()), reply -> {
        if (reply.outcome() == Outcome.ATTEMPT_ENDED) {
          return Problems.unauthorized(reply.detail(), true);
        }
        if (reply.outcome() != Outcome.UNCHANGED) {
          return Problems.complete(Problem.notFound(reply.detail()));
        }
        long known = reply.version();
        if (!follow && reply.state().status().isTerminal() && after >= known) {
          return complete(HttpResponse.create().withStatus(StatusCodes.NO_CONTENT));
        }
        Source<ServerSentEvent, NotUsed> events = journal.live(id, after)
            .takeWhile(f -> follow || !ends(f, known), true)
            .mapConcat(f -> {
              ServerSentEvent event = ServerSentEvent.create(json(f.event()), Optional.empty(),
                  Optional.of(Long.toString(f.event().seq())), java.util.OptionalInt.empty());
              return !follow && ends(f, known)
                  ? List.of(event, closed("terminal", "the run is " + f.state().status().json() + "; add ?follow=true to stay "
                      + "on after its end (a reset starts it again)"))
                  : List.of(event);
            });
        return stream(events);
      });
    }));
  }

  private static boolean ends(RunJournal.Folded f, long known) {
    return f.event().seq() >= known && f.state().status().isTerminal();
  }

  // ---- streaming -------------------------------------------------------------------------------

  /**
   * {@code events} as an SSE response: read ahead at most {@code buffer} events; a client that
   * takes none for {@code slow-client-timeout} while events wait is cut off with a last event
   * {@code closed} (reason {@code slow_client}); a comment every {@code keep-alive} when idle.
   */
  private Route stream(Source<ServerSentEvent, NotUsed> events) {
    Source<ServerSentEvent, NotUsed> bounded = events
        .buffer(settings.buffer(), OverflowStrategy.backpressure())
        .backpressureTimeout(settings.slowClientTimeout())
        .recover(BackpressureTimeoutException.class, () -> {
          slowClientsCut.incrementAndGet();
          return closed("slow_client", "the client took no event for " + settings.slowClientTimeout().toSeconds()
              + " s while events waited; reconnect with Last-Event-ID to go on where it stopped");
        })
        .keepAlive(settings.keepAlive(), () -> KEEP_ALIVE);
    return completeOK(bounded, EventStreamMarshalling.toEventStream());
  }

  /** The data of the last event of a stream that ends: why, for a program and for a person. */
  record Closed(String reason, String detail) {}

  private static ServerSentEvent closed(String reason, String detail) {
    return ServerSentEvent.create(json(new Closed(reason, detail)), CLOSED);
  }

  private static String json(Object value) {
    try {
      return ReinsJson.mapper().writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
