namespace Dien.Head;

/// <summary>How the head turns its last layer into a click probability.</summary>
public enum HeadOutput
{
    /// <summary>One logit and a sigmoid.</summary>
    Sigmoid,

    /// <summary>Two logits and a softmax (the authors' code); the click probability is the second class.</summary>
    Softmax,
}
