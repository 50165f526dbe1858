package dev.reins.persistence.runlist;

import dev.reins.persistence.Connections;
import java.sql.Connection;
import java.sql.SQLException;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.projection.jdbc.JdbcSession;

/**
 * One transaction on the journal database's pool, as Pekko Projection's JDBC support wants it:
 * the projection writes the read model's rows and its offset through the same connection and
 * commits them together (exactly once).
 */
public final class JournalSession implements JdbcSession {
  private final Connection connection;

  public JournalSession(Connections connections) {
    try {
      this.connection = connections.open();
      connection.setAutoCommit(false);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot open a connection to the journal database: " + e.getMessage(), e);
    }
  }

  @Override
  public <R> R withConnection(Function<Connection, R> f) throws Exception {
    return f.apply(connection);
  }

  @Override
  public void commit() throws SQLException {
    connection.commit();
  }

  @Override
  public void rollback() throws SQLException {
    connection.rollback();
  }

  @Override
  public void close() throws SQLException {
    connection.close();
  }
}
