using Xtf.Core.Testing;

namespace Xtf.Tests.Matrix;

/// <summary>
/// The matrix that <c>TestRunParameters</c> ask for: its cases, or the one bad parameter that
/// stops it. A bad parameter becomes one failing NUnit case named
/// <c>TestRunParameters.&lt;name&gt;</c> with the reason (and no instance cases), so discovery
/// never fails with a stack trace and the run is red for the right reason.
/// </summary>
public sealed class MatrixPlan
{
    /// <summary>The name prefix of the case a bad parameter turns into.</summary>
    public const string BadParameterPrefix = "TestRunParameters.";

    private MatrixPlan(MatrixParameters? parameters, IReadOnlyList<MatrixCase> cases, MatrixParameterException? error)
    {
        Parameters = parameters;
        Cases = cases;
        Error = error;
    }

    /// <summary>The parsed parameters; null when one is bad.</summary>
    public MatrixParameters? Parameters { get; }

    /// <summary>The instance cases, hvm_fep on before off, each in selection order.</summary>
    public IReadOnlyList<MatrixCase> Cases { get; }

    /// <summary>The bad parameter, if any (then there are no cases).</summary>
    public MatrixParameterException? Error { get; }

    /// <summary>The plan for these parameters; never throws for a bad value.</summary>
    /// <param name="catalog">The tests to select from.</param>
    /// <param name="parameters">Name to value, as <c>TestContext.Parameters</c> holds them.</param>
    /// <param name="baseDirectory">What a relative <c>logs</c> or <c>expect</c> path is relative to.</param>
    public static MatrixPlan Build(TestCatalog catalog, IReadOnlyDictionary<string, string> parameters, string baseDirectory)
    {
        try
        {
            var p = MatrixParameters.Parse(parameters, baseDirectory);
            return new MatrixPlan(p, SelectCases(catalog, p), null);
        }
        catch (MatrixParameterException e)
        {
            return new MatrixPlan(null, [], e);
        }
    }

    /// <summary>
    /// The cases of a parsed parameter set: for each hypervisor (hvm_fep on, then off), the
    /// selection, narrowed by <c>variations</c>, then by <c>shard</c>. Throws
    /// <see cref="MatrixParameterException"/> for a selection or variation that names nothing.
    /// </summary>
    public static IReadOnlyList<MatrixCase> SelectCases(TestCatalog catalog, MatrixParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(parameters);

        var expectations = ReadExpectations(catalog, parameters.ExpectPath);

        var cases = new List<MatrixCase>();
        int unsharded = 0;
        foreach (bool fep in parameters.Fep)
        {
            var selection = WithVariations(catalog, Select(catalog, parameters, fep), parameters.Variations);
            unsharded += selection.Count;
            var part = parameters.Shard is { } shard ? shard.Of(selection) : selection;
            cases.AddRange(part.Select(i => new MatrixCase(i, fep, parameters.Quirks) { Listed = expectations.Listed(i) }));
        }

        // xtf-runner's "No tests to run"; an empty shard of a non-empty selection is not an error.
        if (unsharded == 0)
            throw new MatrixParameterException("selection", "No tests to run");
        return cases;
    }

    /// <summary>
    /// The selection for one hypervisor. Given tokens, xtf-runner's grammar decides. Without
    /// them, the default matrix: every instance of every category with hvm_fep (as
    /// <c>xtf-runner --list</c>), and the default categories (<c>xtf-runner --all</c>) without
    /// it, the selection of a production-Xen job (<c>xtf-runner --all --fep off</c>).
    /// </summary>
    private static IReadOnlyList<TestInstance> Select(TestCatalog catalog, MatrixParameters parameters, bool fep)
    {
        if (parameters.DefaultSelection)
            return Selection.Interpret(catalog, [], all: true, nonDefault: fep);
        try
        {
            return Selection.Interpret(catalog, parameters.Selection);
        }
        catch (SelectionException e)
        {
            throw new MatrixParameterException("selection", e.Message);
        }
    }

    /// <summary>xtf-runner's <c>--variation</c> over the selection; an unknown variation is a bad <c>variations</c> parameter.</summary>
    private static IReadOnlyList<TestInstance> WithVariations(TestCatalog catalog, IReadOnlyList<TestInstance> selection, IReadOnlySet<string>? variations)
    {
        try
        {
            return variations is null ? selection : Selection.WithVariations(catalog, selection, [.. variations]);
        }
        catch (SelectionException e)
        {
            throw new MatrixParameterException("variations", e.Message);
        }
    }

    /// <summary>The <c>expect</c> file, parsed as xtf-runner's <c>--expect</c> parses it (against the whole catalog).</summary>
    private static Expectations ReadExpectations(TestCatalog catalog, string? path)
    {
        if (path is null)
            return Expectations.None;
        try
        {
            return Expectations.Parse(File.ReadAllText(path), catalog);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MatrixParameterException("expect", $"cannot read '{path}': {e.Message}");
        }
        catch (ExpectationsException e)
        {
            throw new MatrixParameterException("expect", $"{path}: {e.Message}");
        }
    }
}
