using Xtf.Core.Guest;

namespace Xtf.Core.Testing;

/// <summary>
/// xtf-runner's selection grammar. A selection is any number of tokens, each a category
/// (<c>functional</c>, <c>xsa</c>, ...), an environment (<c>hvm32</c>, ...), a pseudo-environment
/// (<c>pv</c>, <c>hvm</c>) or a test, <c>[[test-]ENV-]NAME[~VARIATION]</c>. Tokens of one kind are
/// unioned and the kinds are intersected. Non-default categories (special, utility, in-development)
/// are reached only when a category or test of theirs is named, or with <c>--non-default</c>.
/// The rules, including their corner cases, are upstream's interpret_selection and tests_from_selection.
/// </summary>
public static class Selection
{
    /// <summary>
    /// The instances a selection names, sorted by test name, then environment, then variation.
    /// An empty token list is an empty selection. Throws <see cref="SelectionException"/> with
    /// xtf-runner's message for a token that names nothing.
    /// </summary>
    /// <param name="catalog">The tests to select from.</param>
    /// <param name="tokens">The positional arguments, in command-line order.</param>
    /// <param name="all">xtf-runner's <c>--all</c>: add the default categories.</param>
    /// <param name="nonDefault">xtf-runner's <c>--non-default</c>: add the non-default categories.</param>
    public static IReadOnlyList<TestInstance> Interpret(TestCatalog catalog, IEnumerable<string> tokens, bool all = false, bool nonDefault = false)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(tokens);

        var cats = new HashSet<Category>();
        var envs = Environments.None;
        var others = new List<string>();
        foreach (var token in tokens.Distinct(StringComparer.Ordinal))
        {
            if (Categories.TryParse(token, out var cat))
                cats.Add(cat);
            else if (GuestEnvironment.TryParse(token, out var env))
                envs |= env;
            else if (token == "pv")
                envs |= Environments.Pv;
            else if (token == "hvm")
                envs |= Environments.Hvm;
            else
                others.Add(token);
        }

        if (all)
            cats.UnionWith(Categories.Default);
        if (nonDefault)
            cats.UnionWith(Categories.All.Where(c => !Categories.IsDefault(c)));

        if (cats.Count == 0 && envs == Environments.None && others.Count == 0)
            return [];

        var tests = new List<TestInstance>();
        foreach (var arg in others)
        {
            var (env, test, variation) = ParseInstance(catalog, arg);
            var instances = catalog.FindAll(test.Name).SelectMany(t => t.Instances())
                .Where(i => env is null || i.Environment == env)
                .Where(i => string.IsNullOrEmpty(variation) || i.Variation == variation)
                .ToList();
            if (instances.Count == 0)
            {
                string envText = env is { } e ? GuestEnvironment.Name(e) : "None";
                throw new SelectionException($"No appropriate instances for '{arg}' (env {envText})");
            }

            tests.AddRange(instances);
        }

        return FromSelection(catalog, cats, envs, tests);
    }

    /// <summary>
    /// xtf-runner's <c>--variation V</c> (repeatable): the <c>~V</c> suffix of the grammar applied to
    /// the whole selection. Keeps the instances whose variation is one of <paramref name="variations"/>;
    /// instances of tests without variations have none, so they go. An empty list keeps everything.
    /// Throws <see cref="SelectionException"/> for a variation no test of the catalog has.
    /// </summary>
    public static IReadOnlyList<TestInstance> WithVariations(TestCatalog catalog, IReadOnlyList<TestInstance> selection, IReadOnlyCollection<string> variations)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(variations);
        if (variations.Count == 0)
            return selection;

        var known = catalog.Tests.SelectMany(t => t.Variations).ToHashSet(StringComparer.Ordinal);
        if (variations.FirstOrDefault(v => !known.Contains(v)) is { } unknown)
        {
            string list = known.Count == 0 ? "no test has variations" : "known: " + string.Join(", ", known.Order(StringComparer.Ordinal));
            throw new SelectionException($"Unknown variation '{unknown}' ({list})");
        }

        return [.. selection.Where(i => i.Variation is { } v && variations.Contains(v))];
    }

    /// <summary>
    /// Parses <c>[[test-]ENV-]NAME[~VARIATION]</c> and checks it against the catalog: the
    /// environment (if given) and the variation (if given) must be the test's.
    /// </summary>
    public static (Environments? Environment, TestDescriptor Test, string? Variation) ParseInstance(TestCatalog catalog, string arg)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(arg);

        string? variation = null;
        int tilde = arg.IndexOf('~', StringComparison.Ordinal);
        if (tilde >= 0)
        {
            variation = arg[(tilde + 1)..];
            arg = arg[..tilde];
        }

        Environments? env;
        string name;
        string[] parts = arg.Split('-', 3);
        if (parts.Length == 3 && parts[0] == "test" && GuestEnvironment.TryParse(parts[1], out var testEnv))
        {
            env = testEnv;
            name = parts[2];
        }
        else if (GuestEnvironment.TryParse(parts[0], out var prefixEnv))
        {
            env = prefixEnv;
            name = string.Join('-', parts[1..]);
        }
        else if (catalog.Find(arg) is not null)
        {
            env = null;
            name = arg;
        }
        else
        {
            throw new SelectionException($"Unrecognised test '{arg}'");
        }

        var test = catalog.Find(name) ?? throw new SelectionException($"Unrecognised test name '{name}' for '{arg}'");

        if (env is { } e && (test.Environments & e) == 0)
            throw new SelectionException($"Test '{name}' has no environment '{GuestEnvironment.Name(e)}'");

        if (variation is not null)
        {
            if (test.Variations.Count == 0)
                throw new SelectionException($"Test '{name}' has no variations");
            if (!test.Variations.Contains(variation))
                throw new SelectionException($"No variation '{variation}' for test '{name}'");
        }

        return (env, test, variation);
    }

    /// <summary>
    /// upstream tests_from_selection: categories pick whole tests; environments narrow that, or on
    /// their own pick from the default categories (all categories if a non-default category or a
    /// test of one was named); named tests narrow what is left, or are taken as they are.
    /// </summary>
    private static IReadOnlyList<TestInstance> FromSelection(TestCatalog catalog, HashSet<Category> cats, Environments envs, List<TestInstance> tests)
    {
        var res = new List<TestInstance>();

        if (cats.Count > 0)
            res.AddRange(catalog.Tests.Where(t => cats.Contains(t.Category)).SelectMany(t => t.Instances()));

        if (envs != Environments.None)
        {
            if (res.Count > 0)
            {
                res = [.. res.Where(i => (envs & i.Environment) != 0)];
            }
            else
            {
                bool allCategories = cats.Any(c => !Categories.IsDefault(c))
                    || tests.Any(i => !Categories.IsDefault(i.Test.Category));
                res.AddRange(catalog.Tests
                    .Where(t => allCategories || Categories.IsDefault(t.Category))
                    .SelectMany(t => t.Instances())
                    .Where(i => (envs & i.Environment) != 0));
            }
        }

        if (tests.Count > 0)
        {
            if (res.Count > 0)
            {
                var named = tests.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
                res = [.. res.Where(i => named.Contains(i.Id))];
            }
            else
            {
                res = tests;
            }
        }

        return
        [
            .. res.DistinctBy(i => (i.Id, i.Test.Origin))
                .OrderBy(i => i.Test.Name, StringComparer.Ordinal)
                .ThenBy(i => GuestEnvironment.Name(i.Environment), StringComparer.Ordinal)
                .ThenBy(i => i.Variation ?? "", StringComparer.Ordinal)
                .ThenBy(i => i.Test.Upstream is null ? 0 : 1),
        ];
    }
}
