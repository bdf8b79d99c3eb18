using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

internal static class Shifts
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        _ = add;
    }
}
