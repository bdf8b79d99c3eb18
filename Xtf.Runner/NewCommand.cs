using System.CommandLine;
using System.Text;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Runner.New;

namespace Xtf.Runner;

/// <summary>
/// <c>xtf-runner new NAME [--category C] [--env E]... [--dir DIR]</c>: XTF's make-new-test.sh.
/// Writes <c>testcases/NAME/ClassName.cs</c>, a test case that builds and passes as written, with
/// make-new-test.sh's defaults (category xsa for <c>xsa-*</c> names, else utility; environment
/// hvm32; title <c>"Test NAME"</c> or <c>"XSA-N PoC"</c>). It never overwrites: an existing folder
/// or test of that name is an error, as upstream's "Test NAME already exists".
/// </summary>
internal sealed class NewCommand
{
    /// <summary>The command's word: <c>xtf-runner new</c>.</summary>
    public const string Name = "new";

    private const string Usage = "usage: xtf-runner new NAME [--category C] [--env E]... [--dir DIR]";

    private static readonly string KnownEnvironments =
        string.Join(", ", GuestEnvironment.AllEnvironments.Select(GuestEnvironment.Name).Append("hvm").Append("pv"));

    private readonly TestCatalog catalog;
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;
    private readonly string workingDirectory;

    private readonly Argument<string?> nameArgument = new("NAME")
    {
        Description = "The test's name: lowercase letters and digits in words joined by '-' (xsa-123, pv-iopl)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private readonly Option<string> categoryOption = new("--category")
    {
        Description = "The test's category: " + string.Join(", ", Categories.All.Select(Categories.Name))
            + " (default, as make-new-test.sh: xsa for a name starting xsa-, else utility)",
        HelpName = "C",
    };

    private readonly Option<string[]> envOption = new("--env")
    {
        Description = "An environment the test runs in (repeatable, or a list: --env hvm32,pv64): "
            + KnownEnvironments + " (default, as make-new-test.sh: hvm32)",
        HelpName = "E",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string> dirOption = new("--dir")
    {
        Description = "The folder of test cases to write NAME/ into (default: testcases/ beside " + TestcasesDirectory.SolutionFile
            + ", in the current directory or the nearest one above it)",
        HelpName = "DIR",
    };

    /// <param name="catalog">The tests there are: a new test may not take one's name.</param>
    /// <param name="stdout">What was written is reported here.</param>
    /// <param name="stderr">Where System.CommandLine writes parse output (help goes to stdout).</param>
    /// <param name="workingDirectory">Where the search for the repository's testcases folder starts.</param>
    public NewCommand(TestCatalog catalog, TextWriter stdout, TextWriter stderr, string workingDirectory)
    {
        this.catalog = catalog;
        this.stdout = stdout;
        this.stderr = stderr;
        this.workingDirectory = workingDirectory;
    }

    /// <summary>
    /// Runs the command on the arguments after <c>new</c>: 0 once the test is written; bad input is
    /// a <see cref="RunnerException"/> (one <c>Error:</c> line, exit 1) and writes nothing.
    /// </summary>
    public int Run(IReadOnlyList<string> args)
    {
        var command = new Command(Name, "Write a new test case, testcases/NAME/, that builds and passes as written (XTF's make-new-test.sh)")
        {
            nameArgument,
            categoryOption,
            envOption,
            dirOption,
            new System.CommandLine.Help.HelpOption(),
        };
        // System.CommandLine takes a first token equal to the command's name as the command itself;
        // given that token, it reads `new new` as the name "new" (refused with its reason).
        var parse = command.Parse([Name, .. args], new ParserConfiguration { ResponseFileTokenReplacer = null });

        // An unknown option is taken as the name (and what follows as an extra argument); no test
        // name starts with '-', so say what it is.
        if (parse.GetResult(nameArgument)?.Tokens.FirstOrDefault()?.Value is { } first && first.StartsWith('-'))
            throw new RunnerException($"Unrecognised option '{first}'");
        if (parse.Errors.Count > 0)
            throw new RunnerException(parse.Errors[0].Message);
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });

        string name = parse.GetValue(nameArgument) ?? throw new RunnerException($"No name given ({Usage})");
        if (TestName.Problem(name) is { } problem)
            throw new RunnerException(problem);
        var category = ParseCategory(parse.GetValue(categoryOption)) ?? TestCaseTemplate.DefaultCategory(name);
        var environments = ParseEnvironments(parse.GetValue(envOption) ?? []) ?? TestCaseTemplate.DefaultEnvironments;
        string testcases = TestcasesFolder(parse.GetValue(dirOption));

        string folder = Path.Combine(testcases, name);
        if (Path.Exists(folder))
            throw new RunnerException($"Test {name} already exists");
        if (catalog.Find(name) is { } existing)
            throw new RunnerException($"Test {name} already exists ({existing.Type?.FullName ?? existing.Upstream?.Directory})");

        stdout.WriteLine($"Test name: {name}");
        stdout.WriteLine($"Category: {Categories.Name(category)}");
        stdout.WriteLine($"Environments: {string.Join(' ', GuestEnvironment.Expand(environments).Select(GuestEnvironment.Name))}");
        string file = Path.Combine(folder, TestCaseTemplate.FileName(name));
        stdout.WriteLine($"Writing default {file}");
        Write(folder, file, TestCaseTemplate.Source(name, category, environments));
        return 0;
    }

    private static Category? ParseCategory(string? value)
    {
        if (value is null)
            return null;
        if (!Categories.TryParse(value, out var category))
            throw new RunnerException($"Unrecognised category '{value}' (known: {string.Join(", ", Categories.All.Select(Categories.Name))})");
        return category;
    }

    /// <summary>The union of the named environments; each value may be a list (upstream's TEST-ENVS is one).</summary>
    private static Environments? ParseEnvironments(IEnumerable<string> values)
    {
        var set = Environments.None;
        foreach (string value in values)
        {
            string[] words = value.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
                throw new RunnerException($"Unrecognised environment '{value}' (known: {KnownEnvironments})");
            foreach (string word in words)
            {
                if (GuestEnvironment.TryParse(word, out var env))
                    set |= env;
                else if (word == "hvm")
                    set |= Environments.Hvm;
                else if (word == "pv")
                    set |= Environments.Pv;
                else
                    throw new RunnerException($"Unrecognised environment '{word}' (known: {KnownEnvironments})");
            }
        }

        return set == Environments.None ? null : set;
    }

    private string TestcasesFolder(string? dir)
    {
        if (dir is not null)
        {
            if (!Directory.Exists(dir))
                throw new RunnerException($"--dir: '{dir}' is not a directory");
            return Path.GetFullPath(dir);
        }

        return TestcasesDirectory.Find(workingDirectory)
            ?? throw new RunnerException($"No {TestcasesDirectory.FolderName} folder beside {TestcasesDirectory.SolutionFile} in '{workingDirectory}' or above it; give one with --dir DIR");
    }

    /// <summary>Creates the folder and the file, never replacing one; a failure leaves no empty folder behind.</summary>
    private static void Write(string folder, string file, string source)
    {
        try
        {
            Directory.CreateDirectory(folder);
            using var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
            stream.Write(new UTF8Encoding(false).GetBytes(source));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                Directory.Delete(folder);
            throw new RunnerException($"cannot write '{file}': {e.Message}");
        }
    }
}
