package dev.reins.persistence;

import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunState;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * A stand-in for the run entity that journals whatever events a test scripts, exactly as the
 * entity would: persistence id {@code Run|<runId>}, its slice tag ({@link JournalTags}), {@link
 * RunState#apply} as the event handler and a snapshot every three events. It counts the events it
 * applies, so a test can tell a recovery from a snapshot from a full replay.
 */
final class ScriptedRun extends EventSourcedBehavior<ScriptedRun.Command, RunEvent, RunState> {

  sealed interface Command permits Persist, GetState {}

  /** Journals {@code event}; the reply comes after the write. */
  record Persist(RunEvent event, ActorRef<Persisted> replyTo) implements Command {}

  record Persisted(long sequenceNr, RunState state) {}

  record GetState(ActorRef<Current> replyTo) implements Command {}

  /** The state, the last sequence number and how many events this incarnation has applied. */
  record Current(RunState state, long sequenceNr, int applied) {}

  private final ActorContext<Command> context;
  private final AtomicInteger applied = new AtomicInteger();

  static Behavior<Command> create(String runId) {
    return Behaviors.setup(ctx -> new ScriptedRun(ctx, runId));
  }

  private ScriptedRun(ActorContext<Command> context, String runId) {
    super(PersistenceId.ofUniqueId(RunJournal.persistenceId(runId)));
    this.context = context;
  }

  @Override
  public RunState emptyState() {
    return RunState.EMPTY;
  }

  @Override
  public CommandHandler<Command, RunEvent, RunState> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Persist.class, (state, cmd) -> Effect()
            .persist(cmd.event())
            .thenReply(cmd.replyTo(), next -> new Persisted(lastSequenceNumber(context), next)))
        .onCommand(GetState.class, (state, cmd) -> Effect()
            .reply(cmd.replyTo(), new Current(state, lastSequenceNumber(context), applied.get())))
        .build();
  }

  @Override
  public EventHandler<RunState, RunEvent> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onAnyEvent((state, event) -> {
          applied.incrementAndGet();
          return state.apply(event);
        });
  }

  @Override
  public Set<String> tagsFor(RunEvent event) {
    return Set.of(JournalTags.sliceOf(persistenceId().id()));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(3, 2);
  }
}
