package gradcheck
import ("testing"; G "gorgonia.org/gorgonia"; "gorgonia.org/tensor")
func TestTanh(t *testing.T){
 r, err := Check(func(g *G.ExprGraph, in []*G.Node)(*G.Node, error){ return G.Tanh(in[0]) }, []*tensor.Dense{Random(1,-1,1,3,4)}, Options{})
 t.Log(r, err); if err!=nil {t.Fatal(err)}
 _, err = Check(func(g *G.ExprGraph, in []*G.Node)(*G.Node, error){ return G.Square(in[0]) }, []*tensor.Dense{Random(1,-1,1,3,4)}, Options{})
 if err!=nil {t.Fatal(err)}
}
