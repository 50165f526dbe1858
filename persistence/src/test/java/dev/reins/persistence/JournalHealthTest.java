package dev.reins.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.function.Executable;

/**
 * The journal's health follows its checks: a failed or hanging check makes it unavailable, so that
 * guarded requests fail at once without running, and one that waits fails when the journal goes
 * down; a check that succeeds again makes it available.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JournalHealthTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);
  private static final JournalHealth.Settings FAST = new JournalHealth.Settings(Duration.ofMillis(50), Duration.ofMillis(300), 1);

  private final ActorTestKit kit = ActorTestKit.create();
  private final TestProbe<Object> waiter = kit.createTestProbe();

  @AfterAll
  void stop() {
    kit.shutdownTestKit();
  }

  /** A database whose answer the test decides. */
  private static final class FakeDatabase implements Supplier<CompletionStage<?>> {
    final AtomicReference<Supplier<CompletionStage<?>>> answer = new AtomicReference<>(FakeDatabase::up);

    static CompletionStage<?> up() {
      return CompletableFuture.completedFuture(true);
    }

    static CompletionStage<?> refusing() {
      return CompletableFuture.failedFuture(new SQLException("Connection refused"));
    }

    static CompletionStage<?> hanging() {
      return new CompletableFuture<>();
    }

    @Override
    public CompletionStage<?> get() {
      return answer.get().get();
    }
  }

  @Test
  void aFailedCheckMakesTheJournalUnavailableUntilACheckSucceeds() throws Exception {
    FakeDatabase db = new FakeDatabase();
    JournalHealth health = JournalHealth.start(kit.system(), db, FAST);
    await(health::ready);

    db.answer.set(FakeDatabase::refusing);
    await(() -> !health.available() && !health.ready());
    AtomicBoolean ran = new AtomicBoolean();
    CompletionStage<String> refused = health.guard(() -> {
      ran.set(true);
      return CompletableFuture.completedFuture("done");
    });
    JournalHealth.JournalUnavailable e = failure(refused);
    assertTrue(e.getMessage().contains("Connection refused") && e.getMessage().contains("nothing was done"), e.getMessage());
    assertFalse(ran.get(), "a guarded request must not run while the journal is down");

    db.answer.set(FakeDatabase::up);
    await(health::ready);
    assertEquals("done", health.guard(() -> CompletableFuture.completedFuture("done")).toCompletableFuture()
        .get(PATIENCE.toSeconds(), TimeUnit.SECONDS));
  }

  @Test
  void aCheckThatHangsCountsAsFailed() {
    FakeDatabase db = new FakeDatabase();
    JournalHealth health = JournalHealth.start(kit.system(), db, FAST);
    await(health::ready);

    db.answer.set(FakeDatabase::hanging);
    await(() -> !health.available());
    assertEquals("no answer within 300 ms", health.lastFailure());
  }

  @Test
  void aRequestWaitingForTheJournalFailsWhenItGoesDown() throws Exception {
    FakeDatabase db = new FakeDatabase();
    JournalHealth health = JournalHealth.start(kit.system(), db, FAST);
    await(health::ready);
    CompletionStage<String> waiting = health.guard(CompletableFuture::new); // a write the database never confirms

    db.answer.set(FakeDatabase::refusing);
    JournalHealth.JournalUnavailable e = failure(waiting);
    assertTrue(e.getMessage().contains("may still take effect"), e.getMessage());
  }

  private void await(Supplier<Boolean> condition) {
    waiter.awaitAssert(PATIENCE, () -> {
      assertTrue(condition.get());
      return null;
    });
  }

  private static JournalHealth.JournalUnavailable failure(CompletionStage<?> stage) throws Exception {
    Executable get = () -> stage.toCompletableFuture().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    ExecutionException e = assertThrows(ExecutionException.class, get);
    return assertInstanceOf(JournalHealth.JournalUnavailable.class, e.getCause());
  }
}
