package dev.reins.persistence.feed;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.reins.persistence.JournalTags;
import dev.reins.persistence.RunJournal;
import dev.reins.protocol.api.FeedEvent;
import dev.reins.protocol.api.FeedPage;
import dev.reins.protocol.delegation.DelegationEvent;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.protocol.run.RunEvent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The global feed: every event of every run and delegation, read from the journal with {@code
 * eventsByTag} over the {@link JournalTags} slices and merged into one stream.
 *
 * <p>Why per-slice positions ({@link FeedOffset}) and not the journal's global {@code ordering}
 * alone: orderings are handed out when a row is inserted, not when it commits, so a reader can see
 * ordering 11 before ordering 10 commits; a reader that remembered only "11" would skip 10 for
 * ever. pekko-persistence-jdbc's read journal guards {@code eventsByTag} against this: its
 * JournalSequenceActor only lets queries read up to the highest ordering below which no number is
 * missing, and gives up on a missing number (a rolled-back insert) only after {@code
 * journal-sequence-retrieval.max-tries} x {@code query-delay} (10 x 1 s by default). Reusing that
 * instead of a second copy of the gap logic means reading through {@code eventsByTag}; each slice
 * is then a stream in ordering order, but the slices' queries see that safe maximum at slightly
 * different moments, so their merge is not in ordering order across reads. A position per slice
 * is exact whatever the interleaving. (An insert that takes longer than the give-up time to
 * commit is still skipped; that is the read journal's own limit.)
 */
public final class JournalFeed {
  private static final int OWNERS_MAX = 100_000;
  private static final int MIN_FETCH = 16;
  private static final String RUN_PREFIX = RunJournal.ENTITY_TYPE + "|";
  private static final String DELEGATION_PREFIX = "Delegation|";

  /** Every event type name the feed can show: the stored names of run and delegation events. */
  public static final Set<String> TYPES = Collections.unmodifiableSet(new TreeSet<>(Stream.concat(
      Arrays.stream(RunEvent.class.getAnnotation(JsonSubTypes.class).value()),
      Arrays.stream(DelegationEvent.class.getAnnotation(JsonSubTypes.class).value()))
      .map(JsonSubTypes.Type::name).toList()));

  private final ActorSystem<?> system;
  private final JdbcReadJournal readJournal;
  private final int scanPerSlice;
  /** Whose each persistence id is; never changes once written. Bounded: cleared when full. */
  private final Map<String, Owner> owners = new ConcurrentHashMap<>();

  /** Who an event belongs to: the run's tenant and id, and the delegation's id for delegation events. */
  public record Owner(String tenant, String runId, String delegationId) {}

  /**
   * Which events a reader gets: of these types (empty: all), of this run ({@code null}: any; a
   * run's delegations count as the run's), of this tenant ({@code null}: every tenant).
   */
  public record Filter(Set<String> types, String runId, String tenant) {
    public static final Filter ALL = new Filter(Set.of(), null, null);

    public Filter {
      types = Set.copyOf(types);
    }

    boolean matches(Owner owner, String type) {
      return (types.isEmpty() || types.contains(type))
          && (runId == null || runId.equals(owner.runId()))
          && (tenant == null || tenant.equals(owner.tenant()));
    }

    boolean isAll() {
      return types.isEmpty() && runId == null && tenant == null;
    }
  }

  /** A feed event with what a reader needs to filter it and to resume after it. */
  public record Item(FeedOffset offset, Owner owner, FeedEvent event) {}

  /** @param scanPerSlice how many events of each slice a filtered page reads at most */
  public JournalFeed(ActorSystem<?> system, int scanPerSlice) {
    this.system = system;
    this.readJournal =
        PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    this.scanPerSlice = scanPerSlice;
  }

  private record Sliced(int slice, EventEnvelope envelope) {
    long ordering() {
      return ((Sequence) envelope.offset()).value();
    }
  }

  /**
   * Up to {@code limit} events after {@code after} that pass {@code filter}, and the position to
   * read on from. The slices are merged in ordering order as far as every slice has been read; a
   * page may hold fewer than {@code limit} events (a filter skipped the rest of what was read, or
   * one slice is much busier than the others) and still move on: the feed is caught up when a page
   * is empty and its {@code next} is {@code after}.
   */
  public CompletionStage<FeedPage> page(FeedOffset after, int limit, Filter filter) {
    // Unfiltered, a page needs about limit / SLICES events of each slice; twice that leaves room
    // for slices that are busier than others (a short page is still correct: see the bound below).
    // Filtered, it reads further, so that a selective filter still finds something per page.
    int fetch = filter.isAll()
        ? Math.min(limit, Math.max(MIN_FETCH, 2 * limit / JournalTags.SLICES))
        : Math.max(limit, scanPerSlice);
    List<String> tags = JournalTags.all();
    List<CompletableFuture<List<Sliced>>> reads = new ArrayList<>();
    for (int i = 0; i < tags.size(); i++) {
      int slice = i;
      reads.add(readJournal.currentEventsByTag(tags.get(i), new Sequence(after.of(i)))
          .take(fetch)
          .map(e -> new Sliced(slice, e))
          .runWith(Sink.seq(), system)
          .toCompletableFuture());
    }
    return CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).thenCompose(done -> {
      // A slice that gave all it was asked for may have more just after its last event: merge
      // only up to there, so that the page is in ordering order and no slice is overtaken.
      long bound = Long.MAX_VALUE;
      List<Sliced> merged = new ArrayList<>();
      for (CompletableFuture<List<Sliced>> read : reads) {
        List<Sliced> events = read.join();
        if (events.size() == fetch && !events.isEmpty()) {
          bound = Math.min(bound, events.get(events.size() - 1).ordering());
        }
        merged.addAll(events);
      }
      long upTo = bound;
      List<Sliced> ordered = merged.stream()
          .filter(s -> s.ordering() <= upTo)
          .sorted(Comparator.comparingLong(Sliced::ordering))
          .toList();
      return owners(ordered).thenApply(known -> {
        FeedOffset position = after;
        List<FeedEvent> events = new ArrayList<>();
        for (Sliced s : ordered) {
          if (events.size() == limit) {
            break;
          }
          position = position.with(s.slice(), s.ordering());
          Item item = item(position, known.get(s.envelope().persistenceId()), s.envelope());
          if (filter.matches(item.owner(), item.event().type())) {
            events.add(item.event());
          }
        }
        return new FeedPage(events, position.encode());
      });
    });
  }

  /**
   * The feed from {@code after} on, live: history first, then events as they are written (each
   * slice polled every {@code jdbc-read-journal.refresh-interval}). Never completes. It reads only
   * as fast as its consumer takes events (a slow consumer holds no more than a batch per slice).
   */
  public Source<Item, NotUsed> live(FeedOffset after, Filter filter) {
    List<String> tags = JournalTags.all();
    return Source.range(0, tags.size() - 1)
        .flatMapMerge(tags.size(), (Integer slice) -> readJournal.eventsByTag(tags.get(slice), new Sequence(after.of(slice)))
            .map(e -> new Sliced(slice, e)))
        .mapAsync(1, s -> owner(s.envelope()).thenApply(owner -> Map.entry(s, owner)))
        .statefulMapConcat(() -> {
          FeedOffset[] position = {after};
          return pair -> {
            Sliced s = pair.getKey();
            position[0] = position[0].with(s.slice(), s.ordering());
            Item item = new Item(position[0], pair.getValue(), event(position[0], pair.getValue(), s.envelope()));
            return filter.matches(item.owner(), item.event().type()) ? List.of(item) : List.of();
          };
        });
  }

  private Item item(FeedOffset position, Owner owner, EventEnvelope envelope) {
    return new Item(position, owner, event(position, owner, envelope));
  }

  private static FeedEvent event(FeedOffset position, Owner owner, EventEnvelope envelope) {
    ObjectNode data = ReinsJson.mapper().valueToTree(envelope.event());
    String type = data.remove("type").asText();
    Object e = envelope.event();
    var at = e instanceof RunEvent r ? r.at() : ((DelegationEvent) e).at();
    return new FeedEvent(position.encode(), owner.runId(), owner.delegationId(), envelope.sequenceNr(), type, at, data);
  }

  /** The owners of every persistence id among {@code events}, by persistence id. */
  private CompletionStage<Map<String, Owner>> owners(List<Sliced> events) {
    Map<String, CompletableFuture<Owner>> lookups = new HashMap<>();
    for (Sliced s : events) {
      lookups.computeIfAbsent(s.envelope().persistenceId(), id -> owner(s.envelope()).toCompletableFuture());
    }
    return CompletableFuture.allOf(lookups.values().toArray(CompletableFuture[]::new)).thenApply(done -> {
      Map<String, Owner> out = new HashMap<>();
      lookups.forEach((id, f) -> out.put(id, f.join()));
      return out;
    });
  }

  /** Whose {@code envelope} is: from its journal's first event (RunSubmitted, DelegationCreated). */
  private CompletionStage<Owner> owner(EventEnvelope envelope) {
    String id = envelope.persistenceId();
    Owner known = owners.get(id);
    if (known != null) {
      return CompletableFuture.completedFuture(known);
    }
    CompletionStage<Object> first = envelope.sequenceNr() == 1
        ? CompletableFuture.completedFuture(envelope.event())
        : readJournal.currentEventsByPersistenceId(id, 1L, 1L).runWith(Sink.headOption(), system)
            .thenApply(e -> e.map(EventEnvelope::event).orElse(null));
    return first.thenApply(event -> {
      Owner owner = ownerOf(id, event);
      if (owners.size() >= OWNERS_MAX) {
        owners.clear(); // the next reads look them up again
      }
      owners.put(id, owner);
      return owner;
    });
  }

  static Owner ownerOf(String persistenceId, Object firstEvent) {
    if (firstEvent instanceof RunEvent.RunSubmitted s) {
      return new Owner(s.tenant(), s.runId(), null);
    }
    if (firstEvent instanceof DelegationEvent.DelegationCreated c) {
      return new Owner(c.tenant(), c.runId(), c.delegationId());
    }
    // not written by Reins as it is today: shown to no tenant but the operators'
    String name = persistenceId.startsWith(RUN_PREFIX) ? persistenceId.substring(RUN_PREFIX.length()) : null;
    String delegation = persistenceId.startsWith(DELEGATION_PREFIX) ? persistenceId.substring(DELEGATION_PREFIX.length()) : null;
    return new Owner("", name, delegation);
  }
}
