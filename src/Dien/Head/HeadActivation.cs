namespace Dien.Head;

/// <summary>The activation of the head's hidden layers.</summary>
public enum HeadActivation
{
    /// <summary>Parametric ReLU, one slope per unit.</summary>
    PRelu,

    /// <summary>Dice (DIN): a data-adaptive PReLU whose switch point follows the batch statistics.</summary>
    Dice,
}
