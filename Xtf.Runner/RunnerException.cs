namespace Xtf.Runner;

/// <summary>xtf-runner's RunnerError: printed as <c>Error: &lt;message&gt;</c>, exit code 1.</summary>
internal sealed class RunnerException : Exception
{
    public RunnerException(string message)
        : base(message)
    {
    }
}
