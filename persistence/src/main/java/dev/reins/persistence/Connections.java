package dev.reins.persistence;

import java.sql.Connection;
import java.sql.SQLException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.db.SlickDatabase;
import org.apache.pekko.persistence.jdbc.db.SlickExtension;
import org.apache.pekko.persistence.jdbc.db.SlickExtensionImpl;

/**
 * Where Reins' own tables (tokens, keys) get a JDBC connection: the server borrows from the pool
 * the journal plugins share; tools without an actor system open one directly.
 */
@FunctionalInterface
public interface Connections {
  Connection open() throws SQLException;

  /** A fresh connection per call, for command-line tools and start-up (no pool). */
  static Connections direct(JournalDatabase db) {
    return () -> JournalSchema.connect(db);
  }

  /** The pool of the journal (the shared Slick database named in {@code jdbc-journal}). */
  static Connections pooled(ActorSystem<?> system) {
    SlickDatabase db = ((SlickExtensionImpl) SlickExtension.get(system.classicSystem()))
        .database(system.settings().config().getConfig("jdbc-journal"));
    return () -> db.database().source().createConnection();
  }
}
