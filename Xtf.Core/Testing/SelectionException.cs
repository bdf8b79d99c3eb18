namespace Xtf.Core.Testing;

/// <summary>
/// A selection the user typed that names nothing runnable. The message is xtf-runner's RunnerError
/// text, which the runner prints as <c>Error: &lt;message&gt;</c>.
/// </summary>
public sealed class SelectionException : Exception
{
    /// <summary>Creates the error with xtf-runner's message text, without the <c>Error: </c> prefix.</summary>
    public SelectionException(string message)
        : base(message)
    {
    }
}
