namespace Xtf.Core.Testing;

/// <summary>
/// A selection the user typed that names nothing runnable. The message is xtf-runner's RunnerError
/// text, which the runner prints as <c>Error: &lt;message&gt;</c>.
/// </summary>
public sealed class SelectionException : Exception
{
    public SelectionException(string message)
        : base(message)
    {
    }
}
